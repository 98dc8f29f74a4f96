"""`pyrometer record -o FILE.speedscope.json`: speedscope's file format.

Every file is validated against the JSON schema shipped by the speedscope
npm package (tests/functional/speedscope: ajv and speedscope at pinned
versions, installed here with `npm ci` when missing), then checked in
Python: the hot function weighs most, weights add up to the samples, one
profile per thread, names from the target come back as the target wrote
them.  One interpreter (Debian's 3.11) is enough: the writer only sees the
aggregated profile.
"""
import ast
import json
import os
import shutil
from pathlib import Path

import pytest

import pyro

VALIDATOR = pyro.HERE / "speedscope"
SCHEMA = "https://www.speedscope.app/file-format-schema.json"


@pytest.fixture(scope="module")
def validator():
    """A function that validates speedscope files with node, or a skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("speedscope schema check needs node and npm (apt-get install nodejs npm); "
                    "not found in PATH")
    mods = VALIDATOR / "node_modules"
    if not ((mods / "ajv" / "package.json").exists() and
            (mods / "speedscope" / "package.json").exists()):
        try:
            res = pyro.run([npm, "ci", "--prefix", VALIDATOR, "--no-audit", "--no-fund"],
                           timeout=300)
        except pytest.fail.Exception as e:   # pyro.run fails the test on a timeout
            pytest.skip("npm ci in %s did not finish: %s" % (VALIDATOR, e))
        if res.returncode != 0:
            err = [l for l in res.stderr.decode("utf-8", "replace").splitlines()
                   if l.strip() and "complete log" not in l and "npm warn" not in l]
            pytest.skip("npm ci in %s failed (no registry access?): %s" % (
                VALIDATOR, " / ".join(err[:3]) if err else "exit %d" % res.returncode))

    def check(path, context=""):
        res = pyro.run([node, VALIDATOR / "validate.js", path], timeout=60)
        assert res.returncode == 0, "speedscope schema check failed%s%s" % (
            pyro.describe(res), context)
    return check


def record(pyrometer, t, tmp_path, name, **kw):
    rec = pyro.record(pyrometer, t.pid, tmp_path / name, "speedscope.json", **kw)
    rec.json = json.loads(rec.text)
    return rec


def frame_names(doc, stack):
    return [doc["shared"]["frames"][i]["name"] for i in stack]


def weight_by_leaf(doc):
    """{frame name: weight of the stacks that end in it}, over every profile."""
    acc = {}
    for prof in doc["profiles"]:
        for stack, w in zip(prof["samples"], prof["weights"]):
            if stack:
                name = doc["shared"]["frames"][stack[-1]]["name"]
                acc[name] = acc.get(name, 0) + w
    return acc


def total_weight(doc):
    return sum(sum(p["weights"]) for p in doc["profiles"])


def test_speedscope_ratio(debian_python, spawn, pyrometer, tmp_path, validator):
    t = spawn(debian_python, "ratio.py")
    rec = record(pyrometer, t, tmp_path, "ratio", freq=500, duration=2)
    validator(rec.path, rec.context)
    doc = rec.json
    assert doc["$schema"] == SCHEMA and doc["exporter"].startswith("pyrometer "), rec.context
    assert total_weight(doc) == rec.summary.samples, \
        "weights add up to %d, stderr says %d samples%s" % (
            total_weight(doc), rec.summary.samples, rec.context)
    for prof in doc["profiles"]:
        assert prof["unit"] == "none", "unit %r for samples%s" % (prof["unit"], rec.context)
        assert pyro.THREAD_ROOT_RE.match(prof["name"]), \
            "profile name %r is not 'thread TID (comm)'%s" % (prof["name"], rec.context)
    by_leaf = weight_by_leaf(doc)
    hot = max(by_leaf, key=by_leaf.get)
    assert hot == "ratio_three", "heaviest leaf is %r (%r), expected ratio_three%s" % (
        hot, by_leaf, rec.context)
    assert by_leaf["ratio_three"] > 2 * by_leaf.get("ratio_one", 0), \
        "ratio_three should weigh about 3x ratio_one: %r%s" % (by_leaf, rec.context)
    frames = {(f["name"], f.get("file")) for f in doc["shared"]["frames"]}
    assert ("ratio_three", str(t.script)) in frames, "no frame ratio_three in %s%s" % (
        t.script, rec.context)


def test_speedscope_one_profile_per_thread(debian_python, spawn, pyrometer, tmp_path, validator):
    t = spawn(debian_python, "threads.py")
    rec = record(pyrometer, t, tmp_path, "threads", freq=200, duration=1.5)
    validator(rec.path, rec.context)
    doc = rec.json
    names = [p["name"] for p in doc["profiles"]]
    assert len(names) == len(set(names)), "profiles named twice: %r%s" % (names, rec.context)
    # threads that took no sample (the main thread, blocked in join) have none
    assert len(names) <= rec.summary.threads, "%d profiles for %d threads%s" % (
        len(names), rec.summary.threads, rec.context)
    assert total_weight(doc) == rec.summary.samples, rec.context
    tids = {}
    for prof in doc["profiles"]:
        m = pyro.THREAD_ROOT_RE.match(prof["name"])
        assert m, "profile name %r is not 'thread TID (comm)'%s" % (prof["name"], rec.context)
        tids[int(m.group(1))] = prof
    for fn, tid in t.info["tids"].items():
        assert tid in tids, "no profile for thread %d (%s) in %r%s" % (tid, fn, names, rec.context)
        comm = t.info["comms"][fn]
        assert tids[tid]["name"] == "thread %d (%s)" % (tid, comm), rec.context
        # a thread's function is in its own profile only
        for other_tid, prof in tids.items():
            seen = any(fn in frame_names(doc, s) for s in prof["samples"])
            assert seen == (other_tid == tid), "%s %s in the profile of thread %d%s" % (
                fn, "missing" if not seen else "found", other_tid, rec.context)


def test_speedscope_hostile_names(debian_python, spawn, pyrometer, tmp_path, validator):
    """Names that need escaping come back as the target wrote them."""
    tree = ast.parse((pyro.WORKLOADS / "hostile_names.py").read_text(encoding="utf-8"))
    cases = next(ast.literal_eval(n.value) for n in tree.body
                 if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "CASES")
    t = spawn(debian_python, "hostile_names.py")
    rec = record(pyrometer, t, tmp_path, "hostile", duration=1)
    validator(rec.path, rec.context)
    frames = {(f["name"], f.get("file")) for f in rec.json["shared"]["frames"]}
    for name, filename in cases:
        assert (name, filename) in frames, "no frame (%r, %r)%s" % (name, filename, rec.context)


def test_speedscope_weight_clock(debian_python, spawn, pyrometer, tmp_path, validator):
    """--weight cpu-clock: weights are nanoseconds of CPU."""
    t = spawn(debian_python, "ratio.py")
    rec = record(pyrometer, t, tmp_path, "weight", freq=200, duration=1,
                 extra=["-e", "cpu-clock,page-faults", "--weight", "cpu-clock"])
    validator(rec.path, rec.context)
    doc = rec.json
    assert {p["unit"] for p in doc["profiles"]} == {"nanoseconds"}, rec.context
    # each sample of a 200 Hz clock stands for about 5 ms of CPU
    ns = total_weight(doc)
    per = ns / max(rec.summary.samples, 1)
    assert 1e6 <= per <= 25e6, "%d ns over %d samples (%.0f per sample), expected ~5e6%s" % (
        ns, rec.summary.samples, per, rec.context)
    by_leaf = weight_by_leaf(doc)
    assert max(by_leaf, key=by_leaf.get) == "ratio_three", "%r%s" % (by_leaf, rec.context)
