"""Fixtures for pyrometer's functional tests.

Interpreters are discovered once per session and every test that takes the
`python` fixture runs once per interpreter (ids py3.8 ... py3.13, deb3.11,
py3.14, py3.15).  Interpreters that cannot be found are skipped with the
reason (see `pytest -rs`), except the required ones, which fail.
"""
import ast
import glob
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pyro  # noqa: E402

REQUIRED = ("py3.8", "deb3.11", "py3.13")
PYENV_MINORS = (8, 9, 10, 11, 12, 13)
SID_MINORS = (14, 15)


class Interp:
    def __init__(self, ident, minor, path=None, skip=None, missing_required=None):
        self.id = ident
        self.minor = minor
        self.path = path
        self.skip = skip
        self.missing_required = missing_required
        self.version = None          # "3.11.7" as platform.python_version() says

    @property
    def usable(self):
        return self.path is not None and not self.skip and not self.missing_required

    def __repr__(self):
        return "Interp(%s, %s)" % (self.id, self.path)


def _probe(interp):
    """Run the interpreter once: it must start and be the expected minor version."""
    code = "import sys, platform; print('%d.%d' % sys.version_info[:2]); print(platform.python_version())"
    try:
        res = subprocess.run([interp.path, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s does not run: %s" % (interp.path, e)
    out = res.stdout.decode("utf-8", "replace").split()
    if res.returncode != 0 or len(out) != 2:
        return "%s does not run (exit %s): %s" % (
            interp.path, res.returncode, res.stderr.decode("utf-8", "replace").strip()[-300:])
    if out[0] != "3.%d" % interp.minor:
        return "%s reports Python %s, expected 3.%d" % (interp.path, out[0], interp.minor)
    interp.version = out[1]
    return None


def _pyenv_root():
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def _version_key(path):
    m = re.search(r"/versions/3\.\d+\.(\d+)", path)
    return int(m.group(1)) if m else -1


def _fetch_sid():
    """Run tools/fetch-pythons: {minor: path} and a reason for the missing ones."""
    tool = pyro.REPO / "tools" / "fetch-pythons"
    if os.environ.get("PYROMETER_FETCH_PYTHONS", "1") == "0":
        return {}, "PYROMETER_FETCH_PYTHONS=0"
    if not tool.exists():
        return {}, "%s does not exist" % tool
    timeout = int(os.environ.get("PYROMETER_FETCH_TIMEOUT", "600"))
    try:
        res = subprocess.run([str(tool)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=timeout, cwd=str(pyro.REPO))
    except subprocess.TimeoutExpired:
        return {}, "tools/fetch-pythons did not finish within %ss" % timeout
    except OSError as e:
        return {}, "tools/fetch-pythons could not run: %s" % e
    found = {}
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"^3\.(\d+)\s+(/\S.*)$", line.strip())
        if m:
            found[int(m.group(1))] = m.group(2)
    reason = "not listed by tools/fetch-pythons"
    if res.returncode != 0:
        err = res.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = "tools/fetch-pythons exited %d: %s" % (
            res.returncode, err[-1] if err else "(no message)")
    return found, reason


_INTERPS = None


def interpreters():
    """Every interpreter the suite knows about, usable or not (cached per session)."""
    global _INTERPS
    if _INTERPS is not None:
        return _INTERPS
    found = []
    for minor in PYENV_MINORS:
        ident = "py3.%d" % minor
        paths = sorted(glob.glob(os.path.join(_pyenv_root(), "versions", "3.%d.*" % minor,
                                              "bin", "python3.%d" % minor)), key=_version_key)
        if paths:
            found.append(Interp(ident, minor, paths[-1]))
        else:
            found.append(Interp(ident, minor, skip="no pyenv interpreter %s/versions/3.%d.*/bin/python3.%d"
                                % (_pyenv_root(), minor, minor)))
    if os.path.exists("/usr/bin/python3.11"):
        found.append(Interp("deb3.11", 11, "/usr/bin/python3.11"))
    else:
        found.append(Interp("deb3.11", 11, skip="/usr/bin/python3.11 not installed"))
    sid, reason = _fetch_sid()
    for minor in SID_MINORS:
        if minor in sid:
            found.append(Interp("py3.%d" % minor, minor, sid[minor]))
        else:
            found.append(Interp("py3.%d" % minor, minor, skip="Debian sid 3.%d unavailable: %s" % (minor, reason)))
    only = [s for s in os.environ.get("PYROMETER_TEST_PYTHONS", "").split(",") if s]
    for interp in found:
        if interp.path and not interp.skip:
            interp.skip = _probe(interp)
        if only and interp.id not in only:
            interp.skip = "not selected by PYROMETER_TEST_PYTHONS=%s" % ",".join(only)
        elif interp.skip and interp.id in REQUIRED:
            interp.missing_required, interp.skip = interp.skip, None
    _INTERPS = found
    return found


def interp_by_id(ident):
    for interp in interpreters():
        if interp.id == ident:
            return interp
    raise KeyError(ident)


def pytest_generate_tests(metafunc):
    if "python" in metafunc.fixturenames:
        params = []
        for interp in interpreters():
            marks = [pytest.mark.skip(reason="%s: %s" % (interp.id, interp.skip))] if interp.skip else []
            params.append(pytest.param(interp, id=interp.id, marks=marks))
        metafunc.parametrize("python", params, indirect=True)


@pytest.fixture
def python(request):
    interp = request.param
    if interp.missing_required:
        pytest.fail("required interpreter %s is missing: %s" % (interp.id, interp.missing_required),
                    pytrace=False)
    return interp


@pytest.fixture
def debian_python():
    """Debian's /usr/bin/python3.11, for tests that need just one CPython target."""
    interp = interp_by_id("deb3.11")
    if not interp.usable:
        pytest.fail("deb3.11 is required: %s" % (interp.missing_required or interp.skip), pytrace=False)
    return interp


def pytest_terminal_summary(terminalreporter):
    if _INTERPS is None:
        return
    tr = terminalreporter
    tr.section("pyrometer functional: interpreters")
    for interp in _INTERPS:
        if interp.missing_required:
            tr.write_line("%-8s MISSING (required): %s" % (interp.id, interp.missing_required))
        elif interp.skip:
            tr.write_line("%-8s skipped: %s" % (interp.id, interp.skip))
        else:
            tr.write_line("%-8s %-8s %s" % (interp.id, interp.version, interp.path))


# ------------------------------------------------------------------ binary

@pytest.fixture(scope="session")
def pyrometer():
    path = Path(os.environ.get("PYROMETER_BIN", str(pyro.REPO / "pyrometer")))
    if not (path.is_file() and os.access(str(path), os.X_OK)):
        pytest.fail("pyrometer binary %s is missing or not executable: run `make` at the repository root"
                    % path, pytrace=False)
    return str(path)


# ------------------------------------------------------------------ targets

try:
    import ctypes
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl     # looked up once, before any fork
except (ImportError, OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    # In the forked child: the target gets SIGKILL if the test process dies.
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL))     # PR_SET_PDEATHSIG


def target_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8",
               PYRO_TEST_LIFETIME=os.environ.get("PYRO_TEST_LIFETIME", "60"))
    return env


class Target:
    """A workload process; always killed at teardown."""

    def __init__(self, proc, ready, errlog, script):
        self.proc = proc
        self.pid = proc.pid
        self.ready_path = ready
        self.errlog = errlog
        self.script = script
        self.info = None

    def stderr(self):
        try:
            return self.errlog.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_file(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if self.proc.poll() is not None:
                pyro.fail("workload %s exited with %s before writing %s\n  its stderr: %s" % (
                    self.script.name, self.proc.returncode, path, self.stderr()))
            if time.monotonic() > deadline:
                pyro.fail("workload %s wrote no %s within %ss\n  its stderr: %s" % (
                    self.script.name, path, timeout, self.stderr()))
            time.sleep(0.01)
        with open(path) as f:
            return ast.literal_eval(f.read())

    def wait_ready(self, timeout=30):
        self.info = self.wait_file(self.ready_path, timeout)
        return self.info

    def trigger(self):
        Path(str(self.ready_path) + ".go").touch()

    def reap_in_background(self):
        """Reap the target as soon as it exits, as a shell would."""
        import threading
        threading.Thread(target=self.proc.wait, daemon=True).start()

    def kill(self):
        pyro.stop(self.proc)


@pytest.fixture
def spawn(tmp_path):
    """spawn(interp_or_argv, workload=None, ready=True) -> Target"""
    targets = []
    counter = [0]

    def _spawn(interp, workload=None, ready=True, argv=None):
        counter[0] += 1
        d = tmp_path / ("target%d" % counter[0])
        d.mkdir()
        ready_path = d / "ready"
        errlog = d / "stderr.log"
        if argv is None:
            script = pyro.WORKLOADS / workload
            argv = [interp.path, str(script), str(ready_path)]
        else:
            script = Path(argv[0])
        with open(str(errlog), "wb") as err:
            proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, cwd=str(d),
                                    env=target_env(), preexec_fn=_die_with_parent)
        t = Target(proc, ready_path, errlog, script)
        targets.append(t)
        if ready and workload is not None:
            t.wait_ready()
        return t

    yield _spawn
    for t in targets:
        t.kill()


@pytest.fixture
def procs():
    """Popen objects registered here are killed at teardown."""
    started = []
    yield started
    for p in started:
        pyro.stop(p)
