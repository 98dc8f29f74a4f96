"""`pyrometer dump -p PID`, once per interpreter."""
import re

import pyro

THREAD_RE = re.compile(r'^Thread (\d+) "(.*)"( holds the GIL)?$')
FRAME_RE = re.compile(r"^    (\S.*) \((.*):(\d+)\)$")


def test_dump_three_threads(python, spawn, pyrometer):
    t = spawn(python, "dump_threads.py")
    tids = t.info["tids"]
    res = pyro.run([pyrometer, "dump", "-p", t.pid], timeout=30)
    ctx = pyro.describe(res)
    assert res.returncode == 0, "dump failed" + ctx
    lines = pyro.decode_utf8(res.stdout, "dump output").split("\n")
    with open("/proc/%d/cmdline" % t.pid, "rb") as f:
        cmdline = " ".join(a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a)
    assert lines[0] == "Process %d: %s" % (t.pid, cmdline), "first line should be 'Process PID: cmdline'" + ctx
    numeric = re.match(r"\d+\.\d+\.\d+", python.version).group(0)
    m = re.match(r"^Python (\d+\.\d+\.\d+)\S*$", lines[1])
    assert m and m.group(1) == numeric, "second line should be 'Python %s'%s" % (python.version, ctx)
    assert lines[2] == "", "third line should be blank" + ctx

    threads = {}          # tid -> (header, [frames])
    current = None
    for line in lines[3:]:
        m = THREAD_RE.match(line)
        if m:
            current = int(m.group(1))
            assert current not in threads, "thread %d listed twice%s" % (current, ctx)
            threads[current] = (m, [])
        elif line == "":
            current = None
        else:
            assert current is not None, "frame line %r outside a thread block%s" % (line, ctx)
            fm = FRAME_RE.match(line)
            assert fm, "frame line %r is not '    name (file:line)'%s" % (line, ctx)
            threads[current][1].append(fm.group(1))
    assert sorted(threads) == sorted(tids.values()), \
        "threads listed %r, expected %r%s" % (sorted(threads), sorted(tids.values()), ctx)
    for name, tid in tids.items():
        frames = threads[tid][1]
        # Innermost first: each thread is inside its own function (sleep is C code).
        assert frames and frames[0] == name, "thread %d should show %s innermost, shows %r%s" % (
            tid, name, frames, ctx)
        if name == "dump_main_thread":
            assert frames[-1] == "<module>", "main thread: outermost frame should be <module>" + ctx
        with open("/proc/%d/task/%d/comm" % (t.pid, tid)) as f:
            comm = f.read().rstrip("\n")
        assert threads[tid][0].group(2) == comm, "thread %d named %r, /proc says %r%s" % (
            tid, threads[tid][0].group(2), comm, ctx)
    holders = [tid for tid, (m, _) in threads.items() if m.group(3)]
    assert len(holders) <= 1, "more than one thread holds the GIL: %r%s" % (holders, ctx)
