"""`pyrometer record` against real workloads, once per interpreter."""
import ast
import re
import subprocess

import pyro

# Ratio test: with a 3:1 split the share p of the 3x function must stay in
# [2.4/3.4, 3.6/4.6] = [0.706, 0.783] for the ratio to be within 3 +- 0.6.
# The tighter side is 0.783 - 0.75 = 0.033.  With n independent samples in
# the two functions the share's standard deviation is sqrt(0.75 * 0.25 / n).
# Samples are not quite independent: the Python stack is read after the
# kernel's sample, and when the reader lags (a loaded machine) several
# samples get the same stack.  Measured here with n ~ 4000-4500 per run: the
# ratio's spread was about 0.1-0.14 on an idle or lightly loaded machine
# (binomial: 0.10) and 0.19 with four CPU hogs on two cores (1.85x).
# With n >= 10000 the upper bound is 7.5 binomial sigmas away, and still
# 4.1 sigmas (about 2e-5 per run) at the heavily loaded spread.  One
# -F 2000 -d 5 run gives ~7000 samples when the target gets 70% of a CPU,
# so this is normally two runs; a loaded machine records more of them.
RATIO_MIN_SAMPLES = 10000
RATIO_FREQ = 2000
RATIO_DURATION = 5
RATIO_MAX_RUNS = 6


def test_ratio_3_to_1(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "ratio.py")
    three = one = 0
    for run in range(RATIO_MAX_RUNS):
        rec = pyro.record(pyrometer, t.pid, tmp_path / ("run%d" % run), "csv",
                          freq=RATIO_FREQ, duration=RATIO_DURATION)
        if run == 0:
            top = rec.rows[0] if rec.rows else None
            assert top is not None and top.function == "ratio_three", \
                "the function called 3x as often should be the top row, got %r%s" % (top, rec.context)
        totals = pyro.function_totals(rec.rows)
        assert "ratio_three" in totals and "ratio_one" in totals, \
            "both functions should appear%s" % rec.context
        three += totals["ratio_three"][1]
        one += totals["ratio_one"][1]
        if three + one >= RATIO_MIN_SAMPLES:
            break
    assert three + one >= RATIO_MIN_SAMPLES, \
        "only %d samples in ratio_three/ratio_one after %d runs of -F %d -d %d" % (
            three + one, RATIO_MAX_RUNS, RATIO_FREQ, RATIO_DURATION)
    ratio = three / one
    assert 2.4 <= ratio <= 3.6, \
        "total_samples ratio ratio_three/ratio_one = %d/%d = %.3f, expected 3 +- 0.6" % (three, one, ratio)


def test_expensive_line_is_top(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "lines.py")
    line = pyro.marker_line(t.script, "EXPENSIVE-LINE")
    rec = pyro.record(pyrometer, t.pid, tmp_path / "out", "csv", duration=1)
    assert rec.rows, "no rows" + rec.context
    top = rec.rows[0]
    assert (top.function, top.file, top.line) == ("hot_lines", str(t.script), line), \
        "top row should be the expensive line hot_lines %s:%d, got %r%s" % (t.script, line, top, rec.context)


# OWN% TOTAL%, then a column per event and per derived metric, then FUNCTION LOCATION
TABLE_HEADER_RE = re.compile(r"^\s*OWN%\s+TOTAL%((?:\s+\S+)*?)\s+FUNCTION\s+LOCATION\s*$")


def table_row_re(ncols):
    return re.compile(r"^\s*(\d+\.\d\d)\s+(\d+\.\d\d)" + r"\s+\S+" * ncols +
                      r"\s+(.+?)(?:\s+(\S*:\d+))?\s*$")


def test_table_on_stdout(python, spawn, pyrometer):
    t = spawn(python, "lines.py")
    line = pyro.marker_line(t.script, "EXPENSIVE-LINE")
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-F", 500, "-d", 1], timeout=60)
    ctx = pyro.describe(res)
    assert res.returncode == 0, "record without -o failed" + ctx
    pyro.parse_summary(pyro.decode_utf8(res.stderr, "stderr"), ctx)
    lines = [l for l in pyro.decode_utf8(res.stdout, "stdout").split("\n") if l.strip()]
    m = TABLE_HEADER_RE.match(lines[0]) if lines else None
    assert m, "table header missing" + ctx
    columns = m.group(1).split()
    assert "cpu-clock" in columns or "cycles" in columns, \
        "the table has no column for the sampling event: %r%s" % (columns, ctx)
    row_re = table_row_re(len(columns))
    rows = []
    for l in lines[1:]:
        m = row_re.match(l)
        assert m, "table line %r does not look like 'OWN%% TOTAL%% %s FUNCTION LOCATION'%s" % (
            l, " ".join(columns), ctx)
        rows.append(m.groups())
    assert 1 <= len(rows) <= 20, "expected 1 to 20 rows, got %d%s" % (len(rows), ctx)
    owns = [float(r[0]) for r in rows]
    assert owns == sorted(owns, reverse=True), "table not sorted by OWN%" + ctx
    assert (rows[0][2], rows[0][3]) == ("hot_lines", "%s:%d" % (t.script, line)), \
        "top table row should be hot_lines at the expensive line%s" % ctx


def test_threads(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "threads.py")
    tids = t.info["tids"]
    comms = t.info["comms"]
    names = sorted(tids)
    assert len(set(tids.values())) == 4

    rec = pyro.record(pyrometer, t.pid, tmp_path / "csv", "csv", duration=1)
    totals = pyro.function_totals(rec.rows)
    missing = [n for n in names if totals.get(n, (0, 0))[1] == 0]
    assert not missing, "functions %r missing from the CSV%s" % (missing, rec.context)

    rec = pyro.record(pyrometer, t.pid, tmp_path / "folded", "folded", duration=2, extra=["--threads"])
    assert rec.summary.threads >= 4, "summary counts %d threads%s" % (rec.summary.threads, rec.context)
    seen = {n: set() for n in names}
    for frames, count in rec.stacks:
        m = pyro.THREAD_ROOT_RE.match(frames[0])
        assert m, "with --threads the root frame should be 'thread TID (NAME)', got %r%s" % (frames[0], rec.context)
        tid = int(m.group(1))
        for fname, ftid in tids.items():
            if ftid == tid and comms.get(fname):
                assert m.group(2) == comms[fname], \
                    "thread %d is named %r in /proc, output says %r%s" % (tid, comms[fname], m.group(2), rec.context)
        for frame in frames[1:]:
            name = pyro.frame_name(frame)
            if name in seen:
                seen[name].add(tid)
    for name in names:
        assert seen[name], "%s does not appear in the --threads output%s" % (name, rec.context)
        assert seen[name] == {tids[name]}, "%s ran on thread %d but appears under %r%s" % (
            name, tids[name], sorted(seen[name]), rec.context)


def test_deep_recursion(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "recursion.py")
    depth = t.info["depth"]
    rec = pyro.record(pyrometer, t.pid, tmp_path / "out", "txt", duration=1)
    assert rec.stacks, "no stacks" + rec.context
    at_bottom = [f for f, _ in rec.stacks if pyro.frame_name(f[-1]) == "bottom"]
    assert at_bottom, "no stack ends in bottom()" + rec.context
    frames = max(at_bottom, key=len)
    descends = sum(1 for f in frames if pyro.frame_name(f) == "descend")
    assert len(frames) > 300, "deepest stack has %d frames, expected > 300%s" % (len(frames), rec.context)
    assert descends == depth + 1, "deepest stack has %d descend frames, expected %d%s" % (
        descends, depth + 1, rec.context)
    assert pyro.frame_name(frames[0]) == "<module>", "root frame is %r, expected <module>" % frames[0]


UNICODE_NAME = "w\u00f6rk_\u65e5\u672c"   # wörk_日本


def test_unicode_function_name(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "unicode_names.py")
    line = pyro.marker_line(t.script, "HOT-LINE")
    rec = pyro.record(pyrometer, t.pid, tmp_path / "csv", "csv", duration=1)
    assert rec.rows and rec.rows[0].function == UNICODE_NAME, \
        "top CSV row should be %r, got %r%s" % (UNICODE_NAME, rec.rows[:1], rec.context)
    assert any(r.function == UNICODE_NAME and r.line == line and r.file == str(t.script) for r in rec.rows), \
        "no CSV row for %s at %s:%d%s" % (UNICODE_NAME, t.script, line, rec.context)

    rec = pyro.record(pyrometer, t.pid, tmp_path / "txt", "txt", duration=1)
    want = "%s (%s:%d)" % (UNICODE_NAME, t.script, line)
    hits = sum(c for frames, c in rec.stacks if frames[-1] == want)
    assert hits > 0, "no collapsed stack ends in %r%s" % (want, rec.context)


def _hostile_cases():
    tree = ast.parse((pyro.WORKLOADS / "hostile_names.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CASES":
            return ast.literal_eval(node.value)
    raise AssertionError("CASES not found in hostile_names.py")


def test_hostile_names_escaped(python, spawn, pyrometer, tmp_path):
    """Names from the target are quoted (CSV) and escaped (collapsed) per the contract."""
    cases = _hostile_cases()
    t = spawn(python, "hostile_names.py")

    rec = pyro.record(pyrometer, t.pid, tmp_path / "csv", "csv", duration=1)
    for name, filename in cases:
        want = (pyro.csv_field(name), pyro.csv_field(filename))
        assert any((r.function, r.file) == want for r in rec.rows), \
            "no CSV row with function %r and file %r%s" % (want[0], want[1], rec.context)

    rec = pyro.record(pyrometer, t.pid, tmp_path / "txt", "txt", duration=1)
    frames = set()
    for stack, _ in rec.stacks:
        frames.update(re.sub(r"\\x([0-9A-F]{2})", lambda m: "\\x" + m.group(1).lower(), f) for f in stack)
    for name, filename in cases:
        prefix = "%s (%s:" % (pyro.collapsed_escape(name), pyro.collapsed_escape(filename))
        assert any(f.startswith(prefix) and f.endswith(")") for f in frames), \
            "no collapsed frame starting with %r%s" % (prefix, rec.context)


class Attached:
    """`pyrometer record -p PID -F 500 -o DIR/profile.csv EXTRA...` on a
    workload waiting for its trigger: started, attached, then the trigger."""

    def __init__(self, pyrometer, t, outdir, procs, extra=()):
        outdir.mkdir()
        self.out = outdir / "profile.csv"
        self.cmd = [pyrometer, "record", "-p", str(t.pid), "-F", "500", "-o", str(self.out)]
        self.cmd += list(extra)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(self.proc)
        pyro.wait_attached(self.proc)
        t.trigger()

    def finish(self, what):
        """Waits for pyrometer's exit (what: the situation, for the failure)."""
        try:
            stdout, stderr = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pyro.fail("pyrometer record still running 60 s after " + what)
        res = subprocess.CompletedProcess(self.cmd, self.proc.returncode, stdout, stderr)
        return pyro.finish_recording(res, self.out)


def test_target_exits_during_recording(python, spawn, pyrometer, tmp_path, procs):
    t = spawn(python, "exit_midway.py")
    t.reap_in_background()
    run = Attached(pyrometer, t, tmp_path / "out", procs)
    rec = run.finish("its target was told to exit (no -d)")
    assert t.proc.wait(timeout=30) == 0, "workload failed: %s" % t.stderr()
    got = pyro.function_totals(rec.rows).get("finishing_work", (0, 0))[0]
    # 0.5 s of CPU at 500 Hz is about 250 samples.
    assert got >= 25, "only %d samples in finishing_work (0.5 s of CPU at 500 Hz)%s" % (got, rec.context)


def test_threads_started_after_attach(python, spawn, pyrometer, tmp_path, procs):
    t = spawn(python, "late_threads.py")
    run = Attached(pyrometer, t, tmp_path / "out", procs, ["-d", "3"])
    late = t.wait_file(str(t.ready_path) + ".late")["tids"]
    rec = run.finish("it started, with -d 3")
    totals = pyro.function_totals(rec.rows)
    for name in sorted(late):
        assert totals.get(name, (0, 0))[0] > 0, \
            "%s (thread %d, started after attach) has no samples%s" % (name, late[name], rec.context)
    assert rec.summary.threads >= 2, "summary counts %d threads%s" % (rec.summary.threads, rec.context)


def test_reused_code_address_shows_new_function(python, spawn, pyrometer, tmp_path, procs):
    """A code object freed and another made at its address: the new one's
    samples carry its own name, not the one decoded earlier at that address."""
    t = spawn(python, "code_reuse.py")
    run = Attached(pyrometer, t, tmp_path / "out", procs)
    reuse = t.wait_file(str(t.ready_path) + ".reuse")
    assert reuse["reused"], "the workload found no reused code address in %d tries" % reuse["tries"]
    rec = run.finish("its target's last phase began (no -d)")
    totals = pyro.function_totals(rec.rows)
    alpha = totals.get("alpha_phase", (0, 0))[0]
    omega = totals.get("omega_phase", (0, 0))[0]
    # 0.3 s of CPU each at 500 Hz: about 150 samples each.  Were omega_phase
    # named by the stale entry, its samples would all be alpha_phase's.
    assert alpha + omega >= 100, "only %d samples in the two phases%s" % (alpha + omega, rec.context)
    share = omega / (alpha + omega)
    assert 0.3 <= share <= 0.7, \
        "omega_phase holds %d of %d samples (%.0f%%, expected about 50%%: equal CPU time)%s" % (
            omega, alpha + omega, 100 * share, rec.context)
