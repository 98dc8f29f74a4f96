"""Cases where pyrometer cannot profile: exit 2, one 'pyrometer: ' line, no file."""
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import pyro

def _sysctl(path, default):
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return default


def permission_message(pid):
    """The contract's message; its last clause names the setting that is in
    the way on this machine (man/pyrometer.1), since the contract's example
    hint "set kernel.perf_event_paranoid <= 2" is only true when it is > 2."""
    paranoid = _sysctl("/proc/sys/kernel/perf_event_paranoid", 2)
    scope = _sysctl("/proc/sys/kernel/yama/ptrace_scope", 0)
    if paranoid > 2 and scope > 0:
        own = ("set kernel.perf_event_paranoid <= 2 (it is %d) and kernel.yama.ptrace_scope = 0 (it is %d)"
               % (paranoid, scope))
    elif scope > 0:
        own = "set kernel.yama.ptrace_scope = 0 (it is %d)" % scope
    elif paranoid > 2:
        own = "set kernel.perf_event_paranoid <= 2 (it is %d)" % paranoid
    else:
        own = "profile only processes of your own user"
    return ("pyrometer: permission denied for process %d: run as root, or grant CAP_SYS_PTRACE "
            "and CAP_PERFMON, or for your own processes %s" % (pid, own))


def check_error(res, message, outdir=None):
    ctx = pyro.describe(res)
    assert res.returncode == 2, "expected exit status 2" + ctx
    err = pyro.decode_utf8(res.stderr, "stderr")
    assert err.rstrip("\n") == message, "expected exactly one stderr line %r%s" % (message, ctx)
    if outdir is not None:
        left = sorted(p.name for p in Path(outdir).iterdir())
        assert left == [], "files left in the output directory: %r%s" % (left, ctx)


def argv(pyrometer, sub, pid, out):
    if sub == "dump":
        return [pyrometer, "dump", "-p", pid]
    return [pyrometer, "record", "-p", pid, "-d", 1, "-o", out]


@pytest.mark.parametrize("sub", ["record", "dump"])
def test_no_such_process(pyrometer, tmp_path, sub):
    pid = pyro.unused_pid()
    res = pyro.run(argv(pyrometer, sub, pid, tmp_path / "out.csv"), timeout=30)
    check_error(res, "pyrometer: no process with PID %d" % pid, tmp_path)


@pytest.mark.parametrize("sub", ["record", "dump"])
def test_not_cpython(pyrometer, tmp_path, spawn, sub):
    t = spawn(None, argv=["sleep", "60"])
    deadline = time.monotonic() + 10
    while Path("/proc/%d/comm" % t.pid).read_text().strip() != "sleep":
        assert time.monotonic() < deadline, "sleep did not start"
        time.sleep(0.01)
    out = tmp_path / "out"
    out.mkdir()
    # record profiles any process natively; with Python frames only
    # (--native none) a process that is not Python is an error.
    extra = ["--native", "none"] if sub == "record" else []
    res = pyro.run(argv(pyrometer, sub, t.pid, out / "out.csv") + extra, timeout=30)
    check_error(res, "pyrometer: process %d (sleep) is not CPython: no _PyRuntime symbol in any mapped file"
                % t.pid, out)


UNSUPPORTED_SCRIPT = (
    "import sys, time\n"
    "open(sys.argv[1], 'w').close()\n"
    "end = time.time() + 60\n"
    "while time.time() < end:\n"
    "    pass\n")


def unsupported_python():
    """A real CPython outside 3.8-3.15: $PYROMETER_TEST_UNSUPPORTED_PY, else pyenv's 3.7
    (3.7 already has _PyRuntime, so it is recognised as CPython; 3.6 and 2.7 are not)."""
    exe = os.environ.get("PYROMETER_TEST_UNSUPPORTED_PY")
    if exe:
        return exe
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", "3.7.*", "bin", "python3.7")))
    return found[-1] if found else None


@pytest.mark.parametrize("sub", ["record", "dump"])
def test_unsupported_version(pyrometer, tmp_path, spawn, sub):
    exe = unsupported_python()
    if not exe:
        pytest.skip("no unsupported CPython here (no pyenv 3.7): set PYROMETER_TEST_UNSUPPORTED_PY "
                    "to an interpreter outside 3.8-3.15 to run this test")
    res = pyro.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=30)
    assert res.returncode == 0, "PYROMETER_TEST_UNSUPPORTED_PY=%s does not run%s" % (exe, pyro.describe(res))
    version = res.stdout.decode().strip()
    ready = tmp_path / "ready"
    t = spawn(None, argv=[exe, "-c", UNSUPPORTED_SCRIPT, ready])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert t.proc.poll() is None and time.monotonic() < deadline, "unsupported interpreter did not start"
        time.sleep(0.01)
    out = tmp_path / "out"
    out.mkdir()
    res = pyro.run(argv(pyrometer, sub, t.pid, out / "out.csv"), timeout=30)
    check_error(res, "pyrometer: process %d runs Python %s, which is not supported (supported: 3.8 to 3.15)"
                % (t.pid, version), out)


@pytest.mark.parametrize("case", ["missing-dir", "parent-is-file"])
def test_output_not_writable(pyrometer, tmp_path, spawn, debian_python, case):
    t = spawn(debian_python, "spin.py")
    if case == "missing-dir":
        out, reason = tmp_path / "nonexistent" / "x.csv", "No such file or directory"
    else:
        (tmp_path / "afile").write_text("")
        out, reason = tmp_path / "afile" / "x.csv", "Not a directory"
    before = sorted(p.name for p in tmp_path.iterdir())
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-d", 1, "-o", out], timeout=30)
    check_error(res, "pyrometer: cannot write %s: %s" % (out, reason))
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "files were created" + pyro.describe(res)


def _as_nobody():
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    pytest.skip("neither setpriv nor runuser is installed")


@pytest.fixture
def nobody_dir():
    """A world-readable folder (not under /root) holding a copy of the binary and an output dir."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the nobody user (running as uid %d)" % os.geteuid())
    d = Path(tempfile.mkdtemp(prefix="pyrometer-nobody-"))
    try:
        os.chmod(str(d), 0o755)
        (d / "out").mkdir()
        os.chmod(str(d / "out"), 0o777)
        yield d
    finally:
        shutil.rmtree(str(d), ignore_errors=True)


@pytest.mark.parametrize("sub", ["record", "dump"])
def test_permission_denied(pyrometer, spawn, debian_python, nobody_dir, sub):
    binary = nobody_dir / "pyrometer"
    shutil.copy(pyrometer, str(binary))
    os.chmod(str(binary), 0o755)
    t = spawn(debian_python, "spin.py")        # owned by root
    out = nobody_dir / "out"
    res = pyro.run(_as_nobody() + argv(binary, sub, t.pid, out / "out.csv"), timeout=30, cwd=str(nobody_dir))
    check_error(res, permission_message(t.pid), out)


def test_record_own_process_as_nobody(pyrometer, spawn, debian_python, nobody_dir):
    """The hint in the permission message holds: an unprivileged user can profile
    its own process when kernel.perf_event_paranoid <= 2."""
    with open("/proc/sys/kernel/perf_event_paranoid") as f:
        paranoid = int(f.read())
    if paranoid > 2:
        pytest.skip("kernel.perf_event_paranoid is %d (> 2): unprivileged profiling is off here" % paranoid)
    binary = nobody_dir / "pyrometer"
    shutil.copy(pyrometer, str(binary))
    os.chmod(str(binary), 0o755)
    wl = nobody_dir / "workloads"
    shutil.copytree(str(pyro.WORKLOADS), str(wl), ignore=shutil.ignore_patterns("__pycache__"))
    os.chmod(str(wl), 0o755)
    run_dir = nobody_dir / "run"
    run_dir.mkdir()
    os.chmod(str(run_dir), 0o777)
    ready = run_dir / "ready"
    t = spawn(None, argv=_as_nobody() + [debian_python.path, wl / "spin.py", ready])
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert t.proc.poll() is None and time.monotonic() < deadline, "workload as nobody did not start: " + t.stderr()
        time.sleep(0.01)
    rec = pyro.record(binary, t.pid, nobody_dir / "out", "csv", duration=1, prefix=_as_nobody())
    got = pyro.function_totals(rec.rows).get("spin_forever", (0, 0))[0]
    assert got > 0, "no samples in spin_forever" + rec.context
