"""Launch mode (record -- CMD), recordings (.pyro), report and diff.

A recording must render into exactly what record would have written
directly: record writes both from one run (-o x.pyro -o x.csv), and report
renders the .pyro again.
"""
import csv
import io
import os
import re
import signal
import sys

import pytest

import pyro


def launch(pyrometer, python, args, outdir, extra=(), timeout=60):
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / "profile.csv"
    cmd = [pyrometer, "record", "-F", 500, "-o", out] + list(extra) + \
          ["--", python.path, pyro.WORKLOADS / "launch_exit.py"] + list(args)
    return pyro.run(cmd, timeout), out


# ---------------------------------------------------------------- launch mode

@pytest.mark.parametrize("how,status", [("0", 0), ("3", 3), ("kill", 128 + signal.SIGKILL)],
                         ids=["exit0", "exit3", "sigkill"])
def test_launch_exit_status(how, status, debian_python, pyrometer, tmp_path):
    res, out = launch(pyrometer, debian_python, [how, "0.6"], tmp_path / "out")
    ctx = pyro.describe(res)
    assert res.returncode == status, "record -- CMD should exit with the command's status %d%s" % (
        status, ctx)
    rec = pyro.finish_recording_any_status(res, out)
    totals = pyro.function_totals(rec.rows)
    assert totals.get("first_function", (0, 0))[1] > 0, \
        "the first function the command runs is missing from the profile%s" % rec.context
    assert totals.get("then_the_rest", (0, 0))[1] > 0, "then_the_rest is missing" + rec.context


def test_launch_first_function_every_python(python, pyrometer, tmp_path):
    """No missed start: events are armed before exec, on every interpreter."""
    res, out = launch(pyrometer, python, ["0", "0.45"], tmp_path / "out")
    rec = pyro.finish_recording_any_status(res, out)
    assert res.returncode == 0, "record -- CMD failed" + rec.context
    totals = pyro.function_totals(rec.rows)
    first = totals.get("first_function", (0, 0))[1]
    rest = totals.get("then_the_rest", (0, 0))[1]
    # first_function runs a third of the time: it must hold about a third of
    # the samples, not lose its start to a late attach
    assert first > 0 and rest > 0, "both functions should appear%s" % rec.context
    share = first / (first + rest)
    assert share > 0.2, "first_function holds %.0f%% of the two (expected about 33%%)%s" % (
        100 * share, rec.context)


def test_launch_bad_command(pyrometer, tmp_path):
    out = tmp_path / "out.csv"
    res = pyro.run([pyrometer, "record", "-o", out, "--", "/nonexistent/command"], timeout=30)
    ctx = pyro.describe(res)
    assert res.returncode == 127, "a command that cannot be run should give status 127" + ctx
    assert b"/nonexistent/command" in res.stderr, "the error should name the command" + ctx
    assert not out.exists(), "%s was written" % out


def test_launch_with_pid_is_usage_error(pyrometer, tmp_path):
    res = pyro.run([pyrometer, "record", "-p", os.getpid(), "--", "true"], timeout=30)
    assert res.returncode == 1, "-p with -- COMMAND is a usage error" + pyro.describe(res)


# ---------------------------------------------------------------- recordings and report

def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_report_round_trip(debian_python, spawn, pyrometer, tmp_path):
    t = spawn(debian_python, "ratio.py")
    d = tmp_path / "rec"
    d.mkdir()
    recording = d / "run.pyro"
    formats = ("csv", "folded", "svg", "speedscope.json", "pb.gz")
    outs = []
    for fmt in formats:
        outs += ["-o", d / ("direct." + fmt)]
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-F", 500, "-d", 1.5,
                    "-e", "cpu-clock,page-faults", "-o", recording] + outs, timeout=60)
    ctx = pyro.describe(res)
    assert res.returncode == 0, "record with six outputs failed" + ctx
    for fmt in formats:
        ref = d / ("direct." + fmt)
        out = tmp_path / ("report." + fmt)
        rep = pyro.run([pyrometer, "report", recording, "-o", out], timeout=60)
        assert rep.returncode == 0, "report failed" + pyro.describe(rep)
        assert ref.stat().st_size > 0, "record wrote an empty %s" % ref
        assert out.read_bytes() == ref.read_bytes(), \
            "report's %s differs from record's direct %s%s" % (fmt, fmt, ctx)
    # the table on stdout, and --by function
    rep = pyro.run([pyrometer, "report", recording, "--by", "function"], timeout=60)
    text = rep.stdout.decode("utf-8", "replace")
    assert rep.returncode == 0 and "ratio_three" in text, "report --by function" + pyro.describe(rep)
    assert not re.search(r"ratio\.py:\d", text.split("ratio_three", 1)[1].split("\n", 1)[0]), \
        "--by function rows should carry no line number" + pyro.describe(rep)


def test_report_time_range(debian_python, spawn, pyrometer, tmp_path):
    t = spawn(debian_python, "ratio.py")
    recording = tmp_path / "run.pyro"
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-F", 500, "-d", 2, "-o", recording],
                   timeout=60)
    assert res.returncode == 0, "record failed" + pyro.describe(res)
    total = pyro.parse_summary(res.stderr.decode(), pyro.describe(res)).samples

    def samples(*args):
        out = tmp_path / ("cut%d.csv" % len(os.listdir(tmp_path)))
        rep = pyro.run([pyrometer, "report", recording, "-o", out] + list(args), timeout=60)
        assert rep.returncode == 0, "report %s failed%s" % (" ".join(args), pyro.describe(rep))
        return sum(int(r[3]) for r in read_csv(out)[1:])

    first, second = samples("--to", "1"), samples("--from", "1")
    assert first + second == total, "--to 1 and --from 1 hold %d + %d samples, the run %d" % (
        first, second, total)
    assert 0.25 * total < first < 0.75 * total, "the first second holds %d of %d samples" % (
        first, total)
    assert samples("--from", "100") == 0, "--from past the end should keep no sample"


def test_report_bad_files(pyrometer, tmp_path):
    text = tmp_path / "notes.pyro"
    text.write_text("hello\n")
    for path, what in ((tmp_path / "missing.pyro", "missing.pyro"), (text, "notes.pyro")):
        res = pyro.run([pyrometer, "report", path], timeout=30)
        ctx = pyro.describe(res)
        lines = res.stderr.decode("utf-8", "replace").splitlines()
        assert res.returncode == 2, "expected exit status 2" + ctx
        assert len(lines) == 1 and what in lines[0], "expected one line naming the file" + ctx


# ---------------------------------------------------------------- diff

def record_share(pyrometer, python, spawn, share, path, monkeypatch):
    monkeypatch.setenv("PYRO_GROWER_SHARE", str(share))
    t = spawn(python, "diff_work.py")
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-F", 1000, "-d", 1.5, "-o", path,
                    "--native", "none"], timeout=60)
    assert res.returncode == 0, "record failed" + pyro.describe(res)
    t.kill()


def test_diff_gate(debian_python, spawn, pyrometer, tmp_path, monkeypatch):
    base, same, grown = tmp_path / "base.pyro", tmp_path / "same.pyro", tmp_path / "grown.pyro"
    record_share(pyrometer, debian_python, spawn, 0.25, base, monkeypatch)
    record_share(pyrometer, debian_python, spawn, 0.25, same, monkeypatch)
    record_share(pyrometer, debian_python, spawn, 0.5, grown, monkeypatch)

    out = tmp_path / "diff.csv"
    res = pyro.run([pyrometer, "diff", base, grown, "-o", out, "--fail-over", 10], timeout=60)
    ctx = pyro.describe(res)
    assert res.returncode == 3, "a doubled share should fail --fail-over 10 with status 3" + ctx
    rows = read_csv(out)
    assert rows[0][:3] == ["function", "file", "line"] and rows[0][3].endswith("_base_pct"), \
        "diff CSV header %r" % rows[0] + ctx
    assert rows[1][0] == "grower", "grower should top the diff, got %r%s" % (rows[1], ctx)
    delta = float(rows[1][5])
    assert 15 <= delta <= 35, "grower's share grew by %.2f points, expected about 25%s" % (delta, ctx)
    assert b"grower" in res.stderr and b"regression" in res.stderr, \
        "the gate should name grower on stderr" + ctx

    res = pyro.run([pyrometer, "diff", base, same, "--fail-over", 10], timeout=60)
    assert res.returncode == 0, "two recordings of the same workload should pass the gate" + \
        pyro.describe(res)
    assert b"grower" in res.stdout, "the diff table should list the functions" + pyro.describe(res)


# ---------------------------------------------------------------- --subprocesses

def test_subprocesses(debian_python, pyrometer, tmp_path):
    """multiprocessing with 2 workers: worker_task appears under both worker PIDs."""
    out = tmp_path / "mp.folded"
    cmd = [pyrometer, "record", "--subprocesses", "-F", 200, "-o", out, "--",
           debian_python.path, pyro.WORKLOADS / "mp_workers.py", "1.5"]
    res = pyro.run(cmd, 90)
    ctx = pyro.describe(res)
    assert res.returncode == 0, "record --subprocesses -- python mp_workers.py failed" + ctx
    workers = set(res.stdout.decode().split())
    assert len(workers) == 2, "the workload should report two worker PIDs" + ctx
    rec = pyro.finish_recording_any_status(res, out)
    under = {}
    for frames, count in rec.stacks:
        m = re.match(r"^process (\d+) \(", frames[0])
        assert m, "with --subprocesses every stack starts with 'process PID (name)': %r%s" % (
            frames[0], rec.context)
        if any(f.startswith("worker_task (") for f in frames):
            under[m.group(1)] = under.get(m.group(1), 0) + count
    assert set(under) == workers, "worker_task appears under processes %r, the workers are %r%s" % (
        sorted(under), sorted(workers), rec.context)
    assert min(under.values()) >= 10, "too few worker_task samples per worker: %r%s" % (
        under, rec.context)
