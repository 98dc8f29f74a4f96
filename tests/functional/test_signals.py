"""Ending a recording by signal, and the terminal status line (Debian 3.11 only)."""
import os
import pty
import re
import select
import signal
import subprocess
import tty

import pytest

import pyro


def start_record(pyrometer, pid, out, procs, extra=(), **kw):
    cmd = [pyrometer, "record", "-p", str(pid), "-F", "500", "-o", str(out)] + list(extra)
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return cmd, p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_ends_recording(pyrometer, spawn, debian_python, tmp_path, procs, sig):
    t = spawn(debian_python, "spin.py")
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "profile.csv"
    cmd, p = start_record(pyrometer, t.pid, out, procs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pyro.wait_attached(p)
    pyro.wait_cpu(t.pid, 0.3)          # ~150 samples' worth at 500 Hz
    p.send_signal(sig)
    try:
        stdout, stderr = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        pyro.fail("pyrometer still running 30 s after %s" % sig.name)
    rec = pyro.finish_recording(subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr), out)
    got = pyro.function_totals(rec.rows).get("spin_forever", (0, 0))[0]
    assert got > 0, "no samples in spin_forever" + rec.context


def test_killed_profiler_leaves_no_output(pyrometer, spawn, debian_python, tmp_path, procs):
    t = spawn(debian_python, "spin.py")
    out = tmp_path / "profile.csv"
    cmd, p = start_record(pyrometer, t.pid, out, procs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pyro.wait_attached(p)
    pyro.wait_cpu(t.pid, 0.2)
    p.kill()
    p.wait(timeout=10)
    assert not out.exists(), "a SIGKILLed recording left %s behind" % out


def test_status_line_on_terminal(pyrometer, spawn, debian_python, tmp_path, procs):
    t = spawn(debian_python, "spin.py")
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "profile.csv"
    master, slave = pty.openpty()
    try:
        tty.setraw(slave)               # no \n -> \r\n translation: every \r comes from pyrometer
        cmd, p = start_record(pyrometer, t.pid, out, procs, extra=["-d", "3"],
                              stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        slave = None
        data = b""
        while True:
            r, _, _ = select.select([master], [], [], 30)
            if not r:
                pyro.fail("no output on the terminal for 30 s")
            try:
                chunk = os.read(master, 65536)
            except OSError:             # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            data += chunk
        p.wait(timeout=30)
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    text = pyro.decode_utf8(data, "stderr on a terminal")
    assert p.returncode == 0, "exit %s, stderr %r" % (p.returncode, text)
    assert "\r" in text, "no \\r status line on a terminal during a 3 s recording: %r" % text
    # The status line may be cleared with an ANSI erase (ESC [ K) before the summary.
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    last = [l for l in plain.split("\n") if l.strip()][-1].split("\r")[-1]
    assert pyro.SUMMARY_RE.match(last), "last line %r is not the summary; stderr %r" % (last, text)
    assert sorted(x.name for x in outdir.iterdir()) == ["profile.csv"]
