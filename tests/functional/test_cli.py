"""Command-line surface: version, help, usage errors (exit 1)."""
import os

import pytest

import pyro


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(pyrometer, flag):
    res = pyro.run([pyrometer, flag], timeout=10)
    assert res.returncode == 0 and res.stdout == b"pyrometer 0.1.0\n", pyro.describe(res)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_help(pyrometer, args):
    res = pyro.run([pyrometer] + args, timeout=10)
    out = res.stdout.decode("utf-8", "replace")
    assert res.returncode == 0 and "record" in out and "dump" in out, pyro.describe(res)


@pytest.mark.parametrize("sub", ["record", "dump"])
def test_subcommand_help(pyrometer, sub):
    res = pyro.run([pyrometer, sub, "--help"], timeout=10)
    out = res.stdout.decode("utf-8", "replace")
    assert res.returncode == 0 and "-p" in out, pyro.describe(res)


# A live CPython process to point at: this test process itself.  If a usage
# error were not caught, pyrometer would profile it for a second and exit 0.
SELF = str(os.getpid())


@pytest.mark.parametrize("args", [
    ["bogus"],
    ["record", "--bogus", "-p", SELF, "-d", "1"],
    ["record", "-p", "abc", "-d", "1"],
    ["record", "-p", SELF, "-F", "0", "-d", "1"],
    ["record", "-p", SELF, "-F", "10001", "-d", "1"],
    ["record", "-p", SELF, "-F", "abc", "-d", "1"],
    ["record", "-p", SELF, "-d", "abc"],
    ["record", "-p", SELF, "--rate", "100", "-d", "1"],
    ["dump", "-p", SELF, "--bogus"],
], ids=["subcommand", "option", "pid", "freq0", "freq10001", "freq-abc", "duration", "rate-alias", "dump-option"])
def test_usage_errors(pyrometer, tmp_path, args):
    res = pyro.run([pyrometer] + args, timeout=30, cwd=str(tmp_path))
    assert res.returncode == 1, "expected exit 1 (usage error)" + pyro.describe(res)
    assert res.stderr.decode("utf-8", "replace").startswith("pyrometer: "), pyro.describe(res)
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_extension(pyrometer, tmp_path):
    out = tmp_path / "profile.xyz"
    res = pyro.run([pyrometer, "record", "-p", SELF, "-d", "1", "-o", out], timeout=30)
    assert res.returncode == 1, "expected exit 1" + pyro.describe(res)
    assert "unknown output format" in res.stderr.decode("utf-8", "replace"), pyro.describe(res)
    assert list(tmp_path.iterdir()) == [], "a file was created" + pyro.describe(res)
