"""`pyrometer top` driven in a tmux pane (Debian 3.11 only).

Each test starts a private tmux server (its own socket, a fixed window
size, a plain `sh` with no line editing, so the terminal modes seen after
pyrometer exits are the ones it left), types commands into the pane, and
polls capture-pane until the expected text appears or a deadline passes.
"""
import itertools
import os
import re
import shutil
import subprocess
import time

import pytest

import pyro

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the top tests "
                                "drive pyrometer top in a tmux pane (apt-get install tmux)")

_ids = itertools.count()
PROMPT = "pyro$ "


class Pane:
    """One tmux server with one window; start() it, close() kills it."""

    def __init__(self):
        self.socket = "pyro-test-%d-%d" % (os.getpid(), next(_ids))
        self.socket_path = None

    def start(self, width, height):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "PYTHON"))}
        env.update(LC_ALL="C.UTF-8", ENV="/dev/null", PYRO_TEST_LIFETIME="60")
        env.pop("NO_COLOR", None)
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                   "/bin/sh", env=env)
        self.socket_path = self.fmt("#{socket_path}")
        self.type("PS1='%s''%s'" % (PROMPT[:-2], PROMPT[-2:]))   # the line itself does not match
        # A line ending in the new prompt; the shell's first prompt may come
        # after the typed line's echo, putting "# " before it on that line.
        self.wait_for(lambda s: re.search(r"pyro\$\s*$", s, re.M), 10, "the shell prompt")

    def _tmux(self, *args, env=None):
        res = subprocess.run([TMUX, "-L", self.socket] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, timeout=10)
        if res.returncode != 0:
            pyro.fail("tmux %s failed: %s" % (" ".join(args), res.stderr.decode(errors="replace")))
        return res.stdout.decode("utf-8", "replace")

    def close(self):
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        if self.socket_path:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass

    def type(self, text, enter=True):
        self._tmux("send-keys", "-l", text)
        if enter:
            self._tmux("send-keys", "Enter")

    def keys(self, *names):
        for name in names:
            self._tmux("send-keys", name)

    def screen(self, escapes=False):
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def fmt(self, what):
        return self._tmux("display-message", "-p", what).strip()

    def resize(self, width, height):
        self._tmux("resize-window", "-x", str(width), "-y", str(height))

    def wait_for(self, pred, timeout, what):
        """Poll the screen until pred(text) is true; returns the text."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if pred(text):
                return text
            if time.monotonic() > deadline:
                pyro.fail("waited %.1fs for %s; the pane shows:\n%s" % (timeout, what, text))
            time.sleep(0.05)

    def shell_pid(self):
        return int(self.fmt("#{pane_pid}"))

    def child_pid(self):
        """The command the shell runs now (pyrometer), or None."""
        try:
            with open("/proc/%d/task/%d/children" % ((self.shell_pid(),) * 2)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def tty_flags(self):
        """The local modes of the pane's terminal as stty names them."""
        res = pyro.run(["stty", "-a", "-F", self.fmt("#{pane_tty}")], timeout=10)
        return set(res.stdout.decode().replace(";", " ").split())


@pytest.fixture
def pane():
    panes = []

    def make(width=160, height=40):
        p = Pane()
        panes.append(p)         # killed at teardown even if it fails to start
        p.start(width, height)
        return p

    yield make
    for p in panes:
        p.close()


# ------------------------------------------------------------------ the screen

def table(text):
    """(title line, rows) of the table on a captured screen; rows are the
    lines under the titles, down to the key bar."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if "OWN%" in line and "FUNCTION" in line:
            rows = []
            for row in lines[i + 1:]:
                if not re.match(r"^\s*\d", row):
                    break
                rows.append(row)
            return line, rows
    return None, []


def names(text):
    """The FUNCTION (FILE:LINE) cell of every row."""
    title, rows = table(text)
    if title is None:
        return []
    at = title.index("FUNCTION")
    return [r[at:].strip() for r in rows]


def first_is(name):
    return lambda s: bool(names(s)) and names(s)[0].startswith(name + " ")


def header_line(text, label):
    for line in text.split("\n"):
        if line.startswith(label + " ") or (" %s " % label) in line:
            return line
    return ""


def lines_of(workload, func):
    """Line numbers of func's body in a workload."""
    src = (pyro.WORKLOADS / workload).read_text().split("\n")
    start = next(i for i, l in enumerate(src) if l.startswith("def %s(" % func))
    end = next((i for i in range(start + 1, len(src)) if src[i] and not src[i][0].isspace()),
               len(src))
    return set(range(start + 2, end + 1))


def quit_and_check_restored(p, key="q"):
    """After q (or a signal), the shell is back and the terminal is as the
    shell left it: canonical input, echo, the main screen."""
    if key:
        p.keys(key)
    p.wait_for(lambda s: p.child_pid() is None, 10, "pyrometer to exit")
    p.type("echo done-$((6*7))")
    text = p.wait_for(lambda s: "done-42" in s, 10, "the shell to answer")
    flags = p.tty_flags()
    assert "icanon" in flags and "echo" in flags, \
        "terminal left with %s after exit" % sorted(f for f in flags if "icanon" in f or "echo" in f)
    assert p.fmt("#{alternate_on}") == "0", "still on the alternate screen:\n" + text
    assert p.fmt("#{cursor_flag}") == "1", "cursor left hidden"
    return text


# ------------------------------------------------------------------ tests

@needs_tmux
def test_top_ratio_lines_filter(pyrometer, spawn, debian_python, pane):
    t = spawn(debian_python, "ratio.py")
    p = pane()
    start = time.monotonic()
    p.type("%s top -p %d" % (pyrometer, t.pid))
    want_pid = "PID %d " % t.pid
    want_py = "Python %s " % debian_python.version
    text = p.wait_for(lambda s: want_pid in s and want_py in s and first_is("ratio_three")(s),
                      3, "the header (%r, %r) and ratio_three on the first row" % (
                          want_pid, want_py))
    assert time.monotonic() - start < 3.2, "top took %.1fs" % (time.monotonic() - start)
    assert "Thread all" in text and "Samples " in text and "Source " in text
    assert "ratio_one" in " ".join(names(text)), text

    # Per line: file:line, the hot line of ratio_three first.
    p.keys("l")
    body = lines_of("ratio.py", "ratio_three")

    def hot_line(s):
        m = re.match(r"ratio_three \(.*ratio\.py:(\d+)\)$", names(s)[0]) if names(s) else None
        return m is not None and int(m.group(1)) in body
    text = p.wait_for(hot_line, 5, "a ratio_three line of ratio.py (%s) first" % sorted(body))
    assert "View lines" in text
    p.keys("l")
    p.wait_for(lambda s: "View functions" in s and first_is("ratio_three")(s), 5,
               "functions again")

    # A substring filter, then Esc.
    p.keys("/")
    p.type("ratio_one")
    text = p.wait_for(lambda s: names(s) and all(n.startswith("ratio_one ") for n in names(s)),
                      5, "only ratio_one rows")
    assert 'Filter "ratio_one"' in text
    p.keys("Escape")
    p.wait_for(first_is("ratio_three"), 5, "ratio_three back after Esc")

    # The help screen, and back.
    p.keys("h")
    p.wait_for(lambda s: "sort by the Nth column" in s and "callers and callees" in s, 5,
               "the help screen")
    p.keys("x")
    p.wait_for(first_is("ratio_three"), 5, "the table after the help")

    # 80x24: the header, the first row and the key bar still fit.
    p.resize(80, 24)
    text = p.wait_for(lambda s: first_is("ratio_three")(s) and want_pid in s and
                      s.rstrip("\n").split("\n")[-1].startswith("q Quit  h Help"), 5,
                      "the table at 80x24")
    assert all(len(line) <= 80 for line in text.split("\n"))
    quit_and_check_restored(p)


@needs_tmux
def test_top_native_frames(pyrometer, spawn, debian_python, pane):
    t = spawn(debian_python, "native_qsort.py")
    p = pane()
    # A terminal without colours, for good measure.
    p.type("TERM=vt100 %s top -p %d --delay 0.5" % (pyrometer, t.pid))
    p.wait_for(lambda s: "sort_rows" in " ".join(names(s)), 5, "sort_rows among the rows")
    p.keys("/")
    p.type("qsort")

    def qsort_rows(s):
        return [n for n in names(s) if n.startswith("qsort")]
    text = p.wait_for(lambda s: 'Filter "qsort"' in s, 5, "the filter")
    assert "native off" in text and not qsort_rows(text), "native frame while off:\n" + text
    p.keys("n")
    text = p.wait_for(lambda s: "native on" in s and qsort_rows(s), 5,
                      "qsort once native frames are on")
    assert all(n.endswith("(libc.so.6)") for n in qsort_rows(text)), text
    p.keys("n")
    p.wait_for(lambda s: "native off" in s and not qsort_rows(s), 5, "qsort gone again")
    quit_and_check_restored(p)


@needs_tmux
def test_top_thread_cycle(pyrometer, spawn, debian_python, pane):
    t = spawn(debian_python, "threads.py")
    tids, comms = t.info["tids"], t.info["comms"]
    by_tid = {tid: name for name, tid in tids.items()}
    p = pane()
    p.type("%s top -p %d --delay 0.5" % (pyrometer, t.pid))
    p.wait_for(lambda s: all(n in " ".join(names(s)) for n in tids), 6,
               "all four spin functions")
    seen = 0
    for _ in range(len(tids) + 3):
        before = header_line(p.screen(), "Thread")
        p.keys("t")
        text = p.wait_for(lambda s: header_line(s, "Thread") != before, 5, "the thread to change")
        m = re.search(r"Thread (\d+) \(([^)]*)\)", text)
        if not m or int(m.group(1)) not in by_tid:
            continue
        func = by_tid[int(m.group(1))]
        assert m.group(2) == comms[func], text
        others = [f for f in tids if f != func]
        text = p.wait_for(lambda s: func in " ".join(names(s)), 5, "%s alone" % func)
        listed = " ".join(names(text))
        assert not any(o in listed for o in others), "other threads' functions listed:\n" + text
        seen += 1
        if seen == 2:
            break
    assert seen == 2, "t never reached two worker threads"
    quit_and_check_restored(p)


@needs_tmux
def test_top_sort_by_page_faults(pyrometer, spawn, debian_python, pane):
    t = spawn(debian_python, "events_pf.py")
    p = pane()
    p.type("%s top -p %d -e cpu-clock,page-faults --delay 0.5" % (pyrometer, t.pid))
    text = p.wait_for(lambda s: {"touch_pages", "compute"} <= {n.split(" ")[0] for n in names(s)},
                      6, "touch_pages and compute")
    title, _ = table(text)
    cols = title.split()
    assert "page-faults" in cols, title
    p.keys(str(cols.index("page-faults") + 1))
    text = p.wait_for(lambda s: "Sort page-faults" in s and first_is("touch_pages")(s), 5,
                      "touch_pages first by page faults")
    p.keys("R")
    p.wait_for(lambda s: "(reversed)" in s and not first_is("touch_pages")(s), 5,
               "touch_pages no longer first when reversed")
    # By own share: whichever has more samples comes first.
    p.keys("1")

    def by_own(s):
        _, rows = table(s)
        own = [float(r.split()[0]) for r in rows]
        return "Sort OWN%" in s and own == sorted(own, reverse=True) and len(own) >= 2
    p.wait_for(by_own, 5, "rows by own share")
    quit_and_check_restored(p)


HOSTILE = r'''
import sys, time
sys.path.insert(0, %(workloads)r)
import _common
from hostile_names import make
NAME = "\x1b[2J\x1b[31mevil_\x1b]2;pwned\x07\x1b[?1049l"
fn = make(NAME, "ansi\x1b[5m.py")
announced = False
while time.monotonic() < _common.DEADLINE:
    fn(3000)
    if not announced:
        _common.ready()
        announced = True
'''


@needs_tmux
def test_top_hostile_names(pyrometer, spawn, debian_python, pane, tmp_path):
    script = tmp_path / "ansi_names.py"
    script.write_text(HOSTILE % {"workloads": str(pyro.WORKLOADS)})
    ready = tmp_path / "ready"
    t = spawn(debian_python, argv=[debian_python.path, script, ready])
    t.ready_path = ready
    t.wait_ready()
    p = pane()
    title = p.fmt("#{pane_title}")
    p.type("NO_COLOR=1 %s top -p %d --delay 0.5" % (pyrometer, t.pid))
    visible = r"\x1b[2J\x1b[31mevil_\x1b]2;pwned\x07\x1b[?1049l"
    text = p.wait_for(lambda s: visible in s, 6, "the name with its escapes visible")
    assert ("PID %d " % t.pid) in text, "the header was cleared:\n" + text
    assert p.fmt("#{pane_title}") == title, "the name changed the pane's title"
    assert p.fmt("#{alternate_on}") == "1", "the name left the alternate screen"
    raw = p.screen(escapes=True)
    assert "\x1b[31m" not in raw and "\x1b[5m" not in raw, \
        "red or blinking text on a NO_COLOR screen:\n%r" % raw
    p.keys("Enter")
    p.wait_for(lambda s: "CALLERS" in s and visible in s, 5, "its callers and callees")
    p.keys("Escape")
    quit_and_check_restored(p)


@needs_tmux
def test_top_sigterm_restores_terminal(pyrometer, spawn, debian_python, pane):
    t = spawn(debian_python, "spin.py")
    p = pane()
    p.type("%s top -p %d" % (pyrometer, t.pid))
    p.wait_for(lambda s: ("PID %d " % t.pid) in s, 5, "the header")
    assert "-icanon" in p.tty_flags(), "top runs with canonical input"
    pid = p.child_pid()
    assert pid, "no pyrometer under the pane's shell"
    os.kill(pid, 15)
    quit_and_check_restored(p, key=None)


SHORT = """\
import time


def short_lived():
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        pass


short_lived()
"""


@needs_tmux
def test_top_target_exits(pyrometer, debian_python, pane, tmp_path):
    script = tmp_path / "short.py"
    script.write_text(SHORT)
    p = pane()
    p.type("%s top --delay 0.25 -- %s %s" % (pyrometer, debian_python.path, script))
    text = p.wait_for(lambda s: "exited" in s, 10, "the note that the target exited")
    assert "short_lived" in " ".join(names(text)), "the last data left the screen:\n" + text
    time.sleep(0.5)                     # it stays until q
    assert p.child_pid() is not None and "exited" in p.screen()
    quit_and_check_restored(p)


def test_top_needs_a_terminal(pyrometer, spawn, debian_python):
    t = spawn(debian_python, "spin.py")
    res = pyro.run([pyrometer, "top", "-p", str(t.pid)], timeout=30, stdin=subprocess.DEVNULL)
    err = res.stderr.decode("utf-8", "replace").strip()
    assert res.returncode == 2, pyro.describe(res)
    assert len(err.split("\n")) == 1 and "record" in err, pyro.describe(res)
    assert res.stdout == b"", pyro.describe(res)
