"""Events (-e): software events attributed for real, event mode, uprobes,
the default set and its fallback, `pyrometer events`, --sort and --weight,
and a hardware tier that runs where a PMU is visible.

CSV rows carry EVENT_self,EVENT_total per event after the seven fixed
columns, then the derived metrics that apply.
"""
import os
import re
import shutil

import pytest

import pyro

EVENTS_LINE_RE = re.compile(r"^pyrometer: events: (.*)$", re.M)


def events_line(rec):
    m = EVENTS_LINE_RE.search(rec.stderr)
    assert m, "stderr has no 'pyrometer: events:' line" + rec.context
    return m.group(1)


def solo_samples(stderr):
    """Samples taken by events that sample on their own, from the events line."""
    return sum(int(n) for n in re.findall(r"\((\d+) samples, every \d+\)", stderr))


def event_sum(rows, column, function=None):
    return sum(r.count(column) for r in rows if function is None or r.function == function)


def record_events(pyrometer, pid, out, events, freq=1000, duration=2, extra=(), fmt="csv",
                  sorted_by_samples=True):
    """record() with -e; event-mode samples are taken out of the sample checks."""
    args = ["-e", events] + list(extra)
    # the sample count of solo events is only known afterwards: run, then check
    outdir = out
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / ("profile." + fmt)
    cmd = [pyrometer, "record", "-p", pid, "-F", freq, "-d", duration, "-o", path] + args
    res = pyro.run(cmd, duration + 60)
    stderr = res.stderr.decode("utf-8", "replace")
    if fmt == "csv":
        checks = {"solo_samples": solo_samples(stderr), "sorted_by_samples": sorted_by_samples}
    else:
        checks = {"weighted": "--weight" in args}
    return pyro.finish_recording(res, path, **checks)


def has_pmu(pyrometer):
    res = pyro.run([pyrometer, "events"], timeout=60)
    text = res.stdout.decode("utf-8", "replace")
    m = re.search(r"^hardware PMU: (.*)$", text, re.M)
    assert res.returncode == 0 and m, "pyrometer events gives no 'hardware PMU:' line" + pyro.describe(res)
    return m.group(1).startswith("yes"), m.group(1)


# ---------------------------------------------------------------- software events, for real

def test_page_faults_land_in_toucher(python, spawn, pyrometer, tmp_path):
    """Group mode: page faults counted with cpu-clock samples go to the faulting function."""
    t = spawn(python, "events_pf.py")
    rec = record_events(pyrometer, t.pid, tmp_path / "out", "cpu-clock,page-faults")
    faults = event_sum(rec.rows, "page-faults_self")
    touch = event_sum(rec.rows, "page-faults_total", "touch_pages")
    ctx = "\n  page faults: %d in all, %d in touch_pages%s" % (faults, touch, rec.context)
    assert faults >= 1000, "fewer than 1000 page faults counted" + ctx
    assert touch >= 0.9 * faults, "touch_pages got %.1f%% of the page faults, expected >= 90%%%s" % (
        100.0 * touch / faults, ctx)
    for fn in ("touch_pages", "compute"):
        assert event_sum(rec.rows, "cpu-clock_total", fn) > 0, "%s has no cpu-clock%s" % (fn, ctx)
    assert any(r.metric("faults_per_ksample") for r in rec.rows if r.function == "touch_pages"), \
        "no faults_per_ksample for touch_pages" + ctx


def test_page_faults_event_mode(python, spawn, pyrometer, tmp_path):
    """Event mode: every 16th page fault is a sample of its own, on the faulting function."""
    t = spawn(python, "events_pf.py")
    rec = record_events(pyrometer, t.pid, tmp_path / "out", "cpu-clock,page-faults/period=16/",
                        extra=["--native", "none"])
    line = pyro.marker_line(t.script, "TOUCH-LINE")
    faults = event_sum(rec.rows, "page-faults_self")
    touch = event_sum(rec.rows, "page-faults_total", "touch_pages")
    on_line = sum(r.count("page-faults_self") for r in rec.rows
                  if r.function == "touch_pages" and r.line == line)
    ctx = "\n  page faults: %d sampled, %d in touch_pages, %d on its line %d%s" % (
        faults, touch, on_line, line, rec.context)
    assert "(sampled every 16)" in events_line(rec) or "every 16)" in events_line(rec), \
        "the events line does not say page-faults sampled every 16" + ctx
    assert faults >= 1000, "fewer than 1000 page faults sampled" + ctx
    assert touch >= 0.9 * faults, "touch_pages got %.1f%% of sampled page faults, expected >= 90%%%s" % (
        100.0 * touch / faults, ctx)


def test_context_switches_land_in_blocker(python, spawn, pyrometer, tmp_path):
    """Event mode on context-switches: the function blocking on a pipe gets them.

    At the default -F 100: every cpu-clock sample wakes pyrometer, and a
    wakeup that lands on the target's CPU preempts it (an involuntary switch
    in whatever it runs); at -F 1000 on two cores that was a third of all
    switches, at -F 100 it is a few percent (see the man page, EVENTS)."""
    t = spawn(python, "events_cs.py")
    rec = record_events(pyrometer, t.pid, tmp_path / "out", "cpu-clock,context-switches/period=1/",
                        freq=100, duration=3)
    switches = event_sum(rec.rows, "context-switches_self")
    blocker = event_sum(rec.rows, "context-switches_total", "wait_for_bytes")
    ctx = "\n  context switches: %d in all, %d in wait_for_bytes%s" % (switches, blocker, rec.context)
    assert switches >= 200, "fewer than 200 context switches sampled" + ctx
    assert blocker >= 0.9 * switches, \
        "wait_for_bytes got %.1f%% of the context switches, expected >= 90%%%s" % (
            100.0 * blocker / switches, ctx)
    assert event_sum(rec.rows, "cpu-clock_total", "compute") > event_sum(
        rec.rows, "cpu-clock_total", "wait_for_bytes"), "compute should have most CPU time" + ctx


def python_code_file(pid):
    """The file that holds the interpreter's code in process pid: libpython or the executable."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "x" in parts[1] and "/libpython3" in parts[5]:
                return parts[5]
    return os.path.realpath("/proc/%d/exe" % pid)


def test_uprobe_lands_in_caller(python, spawn, pyrometer, tmp_path):
    """A uprobe on PyFloat_FromString, counted in the group: the function calling float(str) gets it."""
    t = spawn(python, "events_uprobe.py")
    lib = python_code_file(t.pid)
    ev = "uprobe:%s:PyFloat_FromString" % lib
    rec = record_events(pyrometer, t.pid, tmp_path / "out", "cpu-clock," + ev, extra=["--native", "none"])
    hits = event_sum(rec.rows, ev + "_self")
    caller = event_sum(rec.rows, ev + "_total", "parse_floats")
    ctx = "\n  %s: %d hits, %d in parse_floats%s" % (ev, hits, caller, rec.context)
    assert hits >= 10000, "fewer than 10000 PyFloat_FromString calls counted" + ctx
    assert caller >= 0.95 * hits, "parse_floats got %.1f%% of the calls, expected >= 95%%%s" % (
        100.0 * caller / hits, ctx)


@pytest.mark.parametrize("events,column", [
    ("cpu-clock", "cpu-clock"),
    ("page-faults", "page-faults"),
    ("task-clock,page-faults/period=100/", "task-clock"),
], ids=["cpu-clock", "page-faults-leader", "task-clock-and-solo"])
def test_event_sets(events, column, debian_python, spawn, pyrometer, tmp_path):
    """A single event, a non-clock event sampling at -F, a solo sampler beside the leader."""
    t = spawn(debian_python, "events_pf.py")
    rec = record_events(pyrometer, t.pid, tmp_path / "out", events, freq=200, duration=1)
    names = [e.split("/")[0] for e in events.split(",")]
    header = rec.text.split("\n", 1)[0]
    want = "".join(",%s_self,%s_total" % (n, n) for n in names)
    assert want in header, "header %r lacks %r%s" % (header, want, rec.context)
    leader = sum(r.self_samples for r in rec.rows)
    count = event_sum(rec.rows, column + "_self")
    if column.endswith("-clock"):
        assert leader >= 20, "only %d samples of %s%s" % (leader, column, rec.context)
    else:
        # the kernel's frequency mode adapts the period to a bursty event
        # slowly (perf record -F gets as few samples): check the count
        assert leader >= 1 and count >= 10000, "%d samples, %d %s counted%s" % (
            leader, count, column, rec.context)
    assert count > 0, "no %s counts%s" % (column, rec.context)
    # the workload's own functions carry the counts
    mine = sum(r.count(column + "_total") for r in rec.rows if r.function == "drive")
    assert mine >= 0.9 * count, "drive() holds %d of %d %s%s" % (mine, count, column, rec.context)


# ---------------------------------------------------------------- defaults, fallback, errors

def test_default_events(debian_python, spawn, pyrometer, tmp_path):
    """No -e: the hardware set where a PMU answers, else cpu-clock + software counts with one notice."""
    pmu, why = has_pmu(pyrometer)
    t = spawn(debian_python, "events_pf.py")
    rec = pyro.record(pyrometer, t.pid, tmp_path / "out", "csv", freq=200, duration=1)
    header = rec.text.split("\n", 1)[0]
    notices = [l for l in rec.stderr.splitlines() if "hardware counters unavailable" in l]
    if pmu:
        assert "cycles_self" in header and "IPC" in header, "PMU present but no cycles/IPC columns" + rec.context
        assert not notices, "a fallback notice although a PMU is present" + rec.context
    else:
        assert header.endswith(",cpu-clock_self,cpu-clock_total,page-faults_self,page-faults_total,"
                               "context-switches_self,context-switches_total,faults_per_ksample"), \
            "unexpected default columns without a PMU: %r%s" % (header, rec.context)
        assert len(notices) == 1, "expected exactly one fallback notice, got %r%s" % (notices, rec.context)
        assert "no PMU" in notices[0] or "paranoid" in notices[0], \
            "the notice does not say why: %r%s" % (notices[0], rec.context)


def test_unavailable_event(debian_python, spawn, pyrometer, tmp_path):
    pmu, why = has_pmu(pyrometer)
    if pmu:
        pytest.skip("this machine has a hardware PMU (%s): cycles can be opened" % why)
    t = spawn(debian_python, "spin.py")
    out = tmp_path / "out.csv"
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-d", 1, "-e", "cycles", "-o", out], timeout=60)
    ctx = pyro.describe(res)
    lines = res.stderr.decode("utf-8", "replace").splitlines()
    assert res.returncode == 2, "expected exit status 2 for an event that cannot be opened" + ctx
    assert len(lines) == 1 and "cycles" in lines[0] and "no PMU" in lines[0], \
        "expected one line naming cycles and the reason" + ctx
    assert not out.exists(), "%s was written" % out

    rec = record_events(pyrometer, t.pid, tmp_path / "fb", "cycles,page-faults",
                        extra=["--fallback"], duration=1)
    notices = [l for l in rec.stderr.splitlines() if "cycles unavailable" in l]
    assert len(notices) == 1 and "cpu-clock" in notices[0], \
        "--fallback should say once that cycles is replaced by cpu-clock" + rec.context
    assert rec.text.split("\n", 1)[0].endswith(
        "cpu-clock_self,cpu-clock_total,page-faults_self,page-faults_total,faults_per_ksample"), \
        "--fallback columns" + rec.context


@pytest.mark.parametrize("args,what,status", [
    (["-e", "cyclez"], "cyclez", 1),
    (["-e", "cpu-clock,cpu-clock"], "cpu-clock", 1),
    (["-e", "page-faults/period=0/"], "period", 1),
    (["-e", "page-faults/freq=5/"], "freq", 1),
    (["-e", "nosuchsys:nosuchevent"], "nosuchsys:nosuchevent", 1),
    (["-e", "uprobe:libc:no_such_symbol_here"], "no_such_symbol_here", 2),
    (["-e", "uprobe:libnotmappedatall:malloc"], "libnotmappedatall", 2),
    (["-e", "cpu-clock", "--sort", "ipc"], "--sort", 1),
    (["-e", "cpu-clock", "--weight", "page-faults"], "--weight", 1),
], ids=["unknown", "duplicate", "period0", "unknown-term", "tracepoint", "uprobe-symbol",
        "uprobe-library", "sort-missing-input", "weight-not-recorded"])
def test_bad_event_options(args, what, status, debian_python, spawn, pyrometer, tmp_path):
    t = spawn(debian_python, "spin.py")
    out = tmp_path / "out.csv"
    res = pyro.run([pyrometer, "record", "-p", t.pid, "-d", 1, "-o", out] + args, timeout=60)
    ctx = pyro.describe(res)
    lines = [l for l in res.stderr.decode("utf-8", "replace").splitlines()
             if "hardware counters unavailable" not in l]
    assert res.returncode == status, "expected exit status %d" % status + ctx
    assert len(lines) == 1 and lines[0].startswith("pyrometer: ") and what in lines[0], \
        "expected one 'pyrometer: ' line naming %r%s" % (what, ctx)
    assert not out.exists(), "%s was written" % out


def test_events_command(pyrometer):
    res = pyro.run([pyrometer, "events"], timeout=60)
    ctx = pyro.describe(res)
    text = res.stdout.decode("utf-8", "replace")
    assert res.returncode == 0, "pyrometer events failed" + ctx
    for heading in ("hardware", "software", "tracepoint", "uprobe"):
        assert re.search(r"^%s\b" % heading, text, re.M), "no %r group%s" % (heading, ctx)
    assert re.search(r"^\s+cpu-clock\s+yes\b", text, re.M), "cpu-clock is not listed as usable" + ctx
    m = re.search(r"^\s+cycles\s+(yes|no)\b(.*)$", text, re.M)
    assert m, "cycles is not listed" + ctx
    pmu, why = has_pmu(pyrometer)
    assert (m.group(1) == "yes") == pmu, "cycles' mark disagrees with the PMU line" + ctx
    if not pmu:
        assert m.group(2).strip(), "cycles is unusable but no reason is given" + ctx


# ---------------------------------------------------------------- --sort, --weight

def test_sort_and_weight(python, spawn, pyrometer, tmp_path):
    t = spawn(python, "events_pf.py")
    rec = record_events(pyrometer, t.pid, tmp_path / "csv", "cpu-clock,page-faults",
                        extra=["--sort", "page-faults"], sorted_by_samples=False)
    faults = [r.count("page-faults_self") for r in rec.rows]
    assert faults == sorted(faults, reverse=True), \
        "--sort page-faults: rows not in descending page-faults_self order: %r%s" % (faults[:20], rec.context)
    rec = record_events(pyrometer, t.pid, tmp_path / "folded", "cpu-clock,page-faults",
                        extra=["--weight", "page-faults", "--native", "none"], fmt="folded")
    m = re.search(r"page-faults (\d+)", events_line(rec))
    assert m, "no page-faults total on the events line" + rec.context
    total = sum(c for _, c in rec.stacks)
    assert total == int(m.group(1)), "--weight page-faults: stacks add up to %d, events line says %s%s" % (
        total, m.group(1), rec.context)
    touch = sum(c for s, c in rec.stacks if any(f.startswith("touch_pages (") for f in s))
    assert touch >= 0.9 * total, "touch_pages holds %d of %d page-fault weight%s" % (touch, total, rec.context)


# ---------------------------------------------------------------- hardware tier

def test_hardware_ipc_contrast(spawn, pyrometer, tmp_path):
    """cycles and instructions on a dependent chain against independent lanes."""
    pmu, why = has_pmu(pyrometer)
    if not pmu:
        pytest.skip("hardware tier: no PMU on this machine (%s)" % why)
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path / "ipc_contrast"
    res = pyro.run([cc, "-O2", "-g", "-o", exe, pyro.WORKLOADS / "ipc_contrast.c"], timeout=120)
    assert res.returncode == 0, "compiling ipc_contrast.c failed" + pyro.describe(res)
    t = spawn(None, argv=[exe])
    rec = record_events(pyrometer, t.pid, tmp_path / "out", "cycles,instructions", duration=2)
    ipc = {r.function: r.metric("IPC") for r in rec.rows}
    ctx = "\n  IPC per function: %r%s" % (ipc, rec.context)
    assert ipc.get("dependent_chain") and ipc.get("independent_lanes"), "IPC missing" + ctx
    assert ipc["independent_lanes"] > 1.5 * ipc["dependent_chain"], \
        "independent_lanes should have a much higher IPC" + ctx
    print("IPC: dependent_chain %.2f, independent_lanes %.2f" % (
        ipc["dependent_chain"], ipc["independent_lanes"]))
