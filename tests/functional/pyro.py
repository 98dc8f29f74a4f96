"""Helpers for the functional tests: running pyrometer, parsing its outputs,
and the invariants every successful recording must satisfy.

Everything here follows /tmp/spec/cli.md (the CLI contract of issue 2).
"""
import csv
import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKLOADS = HERE / "workloads"

CSV_HEADER = "function,file,line,self_samples,total_samples,self_pct,total_pct"
SUMMARY_RE = re.compile(
    r"^pyrometer: (\d+) samples, (\d+) lost, (\d+) without a Python stack, (\d+) threads$")
COLLAPSED_LINE_RE = re.compile(r"^.+ \d+$")
PCT_RE = re.compile(r"^\d+\.\d\d$")
THREAD_ROOT_RE = re.compile(r"^thread (\d+)(?: \((.*)\))?$")


def fail(msg):
    import pytest
    pytest.fail(msg, pytrace=False)


def describe(proc_result):
    """Text for assertion messages: command, exit status, both streams."""
    return ("\n  command: %s\n  exit: %s\n  stdout: %s\n  stderr: %s" % (
        " ".join(map(str, proc_result.args)), proc_result.returncode,
        _clip(proc_result.stdout), _clip(proc_result.stderr)))


def _clip(text, limit=3000):
    if text is None:
        return "(none)"
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.rstrip("\n")
    if len(text) > limit:
        text = text[:limit // 2] + "\n ...[%d chars cut]...\n" % (len(text) - limit) + text[-limit // 2:]
    return repr(text) if "\n" not in text else "\n    " + text.replace("\n", "\n    ")


def run(cmd, timeout, **kw):
    """subprocess.run with a timeout that fails the test (and kills the child)."""
    try:
        return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        fail("timed out after %ss: %s\n  stderr so far: %s" % (
            timeout, " ".join(map(str, cmd)), _clip(e.stderr)))


def decode_utf8(data, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("%s is not valid UTF-8: %s\n  bytes near the error: %r" % (
            what, e, data[max(0, e.start - 40):e.end + 40]))


# ---------------------------------------------------------------- /proc helpers

def perf_fds(pid):
    """Number of perf_event file descriptors process `pid` holds."""
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[perf_event]":
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def wait_attached(proc, timeout=30):
    """Wait until pyrometer (a Popen) has opened its perf events."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            fail("pyrometer exited (status %s) before attaching\n  stdout: %s\n  stderr: %s" % (
                proc.returncode, _clip(out), _clip(err)))
        if perf_fds(proc.pid) > 0:
            return
        time.sleep(0.01)
    fail("pyrometer opened no perf_event file descriptor within %ss" % timeout)


def cpu_seconds(pid, tid=None):
    """utime + stime of a process (or one of its threads), in seconds."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_cpu(pid, seconds, timeout=60, tid=None):
    """Wait until the target has burnt `seconds` more CPU time from now."""
    start = cpu_seconds(pid, tid)
    deadline = time.monotonic() + timeout
    while cpu_seconds(pid, tid) - start < seconds:
        if time.monotonic() > deadline:
            fail("target %d used less than %ss of CPU in %ss" % (pid, seconds, timeout))
        time.sleep(0.02)


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


# ---------------------------------------------------------------- outputs

class Summary:
    def __init__(self, m):
        self.samples, self.lost, self.without_python, self.threads = map(int, m.groups())


def parse_summary(stderr_text, context=""):
    lines = [l for l in stderr_text.split("\n") if l.strip()]
    if not lines:
        fail("stderr is empty; expected the final summary line" + context)
    m = SUMMARY_RE.match(lines[-1])
    if not m:
        fail("stderr's last line %r is not '<N> samples, <N> lost, <N> without a Python stack, "
             "<N> threads'%s" % (lines[-1], context))
    return Summary(m)


class CsvRow:
    def __init__(self, fields, extra_names=()):
        (self.function, self.file, line, self_s, total_s,
         self.self_pct, self.total_pct) = fields[:7]
        self.line = int(line)
        self.self_samples = int(self_s)
        self.total_samples = int(total_s)
        # event columns (EVENT_self, EVENT_total) and metrics, by header name
        self.extra = dict(zip(extra_names, fields[7:]))

    def count(self, column):
        """An event column's value as an int (EVENT_self / EVENT_total)."""
        return int(self.extra[column])

    def metric(self, column):
        """A metric column's value, or None where it is empty."""
        v = self.extra[column]
        return float(v) if v != "" else None

    def __repr__(self):
        return "CsvRow(%r, %r, %d, self=%d, total=%d)" % (
            self.function, self.file, self.line, self.self_samples, self.total_samples)


def parse_csv(text, summary, context="", sorted_by_samples=True, solo_samples=0):
    """Parse and check a CSV profile; returns the rows.

    The first seven columns are fixed; event columns (EVENT_self,
    EVENT_total, integers) and metric columns follow.  solo_samples: samples
    of events that sample on their own (they count in the summary but are
    not samples of the first event)."""
    first = text.split("\n", 1)[0].rstrip("\r")
    assert first.startswith(CSV_HEADER), "CSV header is %r, expected it to start with %r%s" % (
        first, CSV_HEADER, context)
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[0]
    extra = header[7:]
    rows = []
    for rec in records[1:]:
        if not rec:
            continue
        assert len(rec) == len(header), "CSV row with %d fields, header has %d: %r%s" % (
            len(rec), len(header), rec, context)
        for i in (2, 3, 4):
            assert re.match(r"^\d+$", rec[i]), "CSV row %r: field %d is not an integer%s" % (rec, i + 1, context)
        for i in (5, 6):
            assert PCT_RE.match(rec[i]), "CSV row %r: percentage %r is not written with 2 decimals%s" % (rec, rec[i], context)
        for i, name in enumerate(extra, 7):
            if name.endswith("_self") or name.endswith("_total"):
                assert re.match(r"^\d+$", rec[i]), "CSV row %r: %s is not an integer%s" % (
                    rec, name, context)
            else:
                assert re.match(r"^(\d+\.\d{3})?$", rec[i]), \
                    "CSV row %r: metric %s %r is not empty or written with 3 decimals%s" % (
                        rec, name, rec[i], context)
        rows.append(CsvRow(rec, extra))
    for name in extra:
        if name.endswith("_self"):
            ev = name[:-len("_self")]
            for r in rows:
                assert r.count(ev + "_total") >= r.count(name), \
                    "row %r: %s_total < %s%s" % (r, ev, name, context)
    selfs = [r.self_samples for r in rows]
    if sorted_by_samples:
        assert selfs == sorted(selfs, reverse=True), \
            "CSV rows are not sorted by self_samples descending: %r%s" % (selfs[:30], context)
    summary_samples = summary.samples - solo_samples
    keys = [(r.function, r.file, r.line) for r in rows]
    assert len(keys) == len(set(keys)), "CSV has duplicate (function, file, line) rows%s" % context
    assert sum(selfs) == summary_samples, \
        "sum of self_samples is %d but stderr says %d samples%s" % (sum(selfs), summary_samples, context)
    for r in rows:
        assert r.total_samples >= r.self_samples, "row %r: total < self%s" % (r, context)
        if summary_samples:
            for pct, n in ((r.self_pct, r.self_samples), (r.total_pct, r.total_samples)):
                want = 100.0 * n / summary_samples
                assert abs(float(pct) - want) <= 0.0051, \
                    "row %r: percentage %s, expected %.4f%s" % (r, pct, want, context)
    return rows


def parse_collapsed(text, summary, context="", weighted=False):
    """Parse and check collapsed stacks; returns [(frames, count)].

    weighted: the counts are an event's (--weight), not samples."""
    stacks = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        assert COLLAPSED_LINE_RE.match(line), "collapsed line does not match '^.+ \\d+$': %r%s" % (line, context)
        body, count = line.rsplit(" ", 1)
        stacks.append((body.split(";"), int(count)))
    total = sum(c for _, c in stacks)
    assert weighted or total == summary.samples, \
        "collapsed counts add up to %d but stderr says %d samples%s" % (total, summary.samples, context)
    return stacks


def frame_name(frame):
    """Function part of a Python frame text 'qualname (file:line)'."""
    m = re.match(r"^(.*) \((.*):(\d+)\)$", frame)
    return m.group(1) if m else frame


class Recording:
    pass


def record(binary, pid, outdir, fmt="csv", freq=500, duration=2, extra=(), timeout=None,
           prefix=(), **csv_checks):
    """Run `pyrometer record` to a file and check what every run must satisfy.

    outdir must be a fresh, empty directory: afterwards it must hold exactly the
    output file (no FILE.tmp.* leftovers).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    assert not list(outdir.iterdir())
    out = outdir / ("profile." + fmt)
    cmd = list(prefix) + [binary, "record", "-p", pid, "-F", freq]
    if duration is not None:
        cmd += ["-d", duration]
    cmd += ["-o", out] + list(extra)
    res = run(cmd, timeout or (duration or 0) + 60)
    return finish_recording(res, out, **csv_checks)


def finish_recording(res, out, weighted=False, **csv_checks):
    """Checks shared by record() and by tests that drive pyrometer with Popen."""
    rec = Recording()
    rec.result = res
    rec.path = out
    stderr = decode_utf8(res.stderr, "pyrometer's stderr")
    rec.stderr = stderr
    ctx = describe(res)
    assert res.returncode == 0, "pyrometer record failed" + ctx
    assert "\r" not in stderr, "status line with \\r on stderr although stderr is not a terminal" + ctx
    rec.summary = parse_summary(stderr, ctx)
    left = sorted(p.name for p in out.parent.iterdir())
    assert left == [out.name], "output directory holds %r, expected only %r%s" % (left, out.name, ctx)
    data = out.read_bytes()
    rec.text = decode_utf8(data, str(out))
    ctx += "\n  output file:" + _clip(rec.text)
    rec.context = ctx
    if out.suffix == ".csv":
        rec.rows = parse_csv(rec.text, rec.summary, ctx, **csv_checks)
    elif out.suffix in (".txt", ".folded"):
        rec.stacks = parse_collapsed(rec.text, rec.summary, ctx, weighted)
    return rec


def finish_recording_any_status(res, out, **csv_checks):
    """finish_recording for runs whose exit status is the launched command's."""
    import subprocess
    ok = subprocess.CompletedProcess(res.args, 0, res.stdout, res.stderr)
    rec = finish_recording(ok, out, **csv_checks)
    rec.result = res
    return rec


def function_totals(rows):
    """{function: (self, total)} summed over a function's rows (non-recursive functions)."""
    acc = {}
    for r in rows:
        s, t = acc.get(r.function, (0, 0))
        acc[r.function] = (s + r.self_samples, t + r.total_samples)
    return acc


def marker_line(path, marker):
    """1-based line number of the single source line containing `marker`."""
    hits = [i for i, l in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
            if marker in l]
    assert len(hits) == 1, "marker %r found on lines %r of %s" % (marker, hits, path)
    return hits[0]


def collapsed_escape(text):
    """How the contract says names appear inside collapsed frames."""
    out = []
    for ch in text:
        if ch == ";":
            out.append(":")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def csv_field(text):
    """The value a CSV reader must get back for a name (formula guard applied)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def stop(proc, sig=signal.SIGKILL):
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
