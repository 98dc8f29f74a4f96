"""SVG flame graphs: well-formed, self-contained, faithful, and working in a browser.

The XML tests need only Python.  The browser tests drive Debian's Chromium
with playwright-core (tests/functional/browser/svgcheck.js); they skip with
the reason when node, npm or chromium is missing, and install the npm
package themselves (`npm ci`) the first time.
"""
import ast
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

import pyro

NS = "{http://www.w3.org/2000/svg}"
WIDTH, PAD = 1200, 10
AVAIL = WIDTH - 2 * PAD
MIN_PX = 0.1
MATCHED_RE = re.compile(r"^Matched: (\d+\.\d)%$")

BROWSER_DIR = pyro.HERE / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE_MAJOR_MIN = 20          # playwright-core 1.65 needs Node.js 20


class Frame:
    def __init__(self, g):
        title = g.find(NS + "title").text or ""
        rect = g.find(NS + "rect")
        self.info = title
        self.label = title.split("\n")[0]
        self.s, self.w, self.d = (int(g.get(k)) for k in ("data-s", "data-w", "data-d"))
        self.x, self.width = float(rect.get("x")), float(rect.get("width"))
        self.fill = rect.get("fill")
        self.text = g.find(NS + "text").text or ""

    def __repr__(self):
        return "Frame(%r, s=%d, w=%d, d=%d)" % (self.label, self.s, self.w, self.d)


class Svg:
    """A recorded .svg, parsed and checked for what every flame graph must satisfy."""

    def __init__(self, rec):
        self.rec = rec
        ctx = rec.context
        try:
            self.root = ET.fromstring(rec.text.encode("utf-8"))
        except ET.ParseError as e:
            pyro.fail("the SVG is not well-formed XML: %s%s" % (e, ctx))
        assert self.root.tag == NS + "svg", "root element is %r%s" % (self.root.tag, ctx)
        scripts = self.root.findall(".//" + NS + "script")
        assert len(scripts) == 1, "%d <script> elements, expected 1%s" % (len(scripts), ctx)
        for el in self.root.iter():
            for k, v in el.attrib.items():
                assert "href" not in k and not re.match(r"^\s*(https?:|//)", v), \
                    "the SVG refers to something outside it: %s=%r%s" % (k, v, ctx)
        self.by_id = {el.get("id"): el for el in self.root.iter() if el.get("id")}
        self.total = int(self.root.get("data-total"))
        self.frames = [Frame(g) for g in self.by_id["frames"].findall(NS + "g")]
        self._check_layout()

    def text_of(self, ident):
        return "".join(self.by_id[ident].itertext())

    def _check_layout(self):
        ctx = self.rec.context
        assert self.frames, "no frames" + ctx
        root = self.frames[0]
        assert (root.label, root.d, root.s, root.w) == ("all", 0, 0, self.total), \
            "first frame should be 'all' over the whole width, got %r%s" % (root, ctx)
        by_depth = {}
        for f in self.frames:
            by_depth.setdefault(f.d, []).append(f)
            want_x = PAD + AVAIL * f.s / self.total
            want_w = AVAIL * f.w / self.total
            assert abs(f.x - want_x) < 0.011 and abs(f.width - want_w) < 0.011, \
                "%r is drawn at x=%s width=%s, expected %.2f and %.2f%s" % (
                    f, f.x, f.width, want_x, want_w, ctx)
            assert f.width >= MIN_PX - 0.006, "%r is narrower than %s px%s" % (f, MIN_PX, ctx)
        for d, row in by_depth.items():
            row.sort(key=lambda f: f.s)
            for a, b in zip(row, row[1:]):
                assert a.s + a.w <= b.s, "frames %r and %r overlap%s" % (a, b, ctx)
            if d == 0:
                continue
            for f in row:
                up = [p for p in by_depth.get(d - 1, []) if p.s <= f.s and f.s + f.w <= p.s + p.w]
                assert len(up) == 1, "%r has %d parents in the row below%s" % (f, len(up), ctx)

    def weight_of(self, name):
        """Width of every frame of a function, outermost frames only (units of weight)."""
        spans = sorted((f.s, f.s + f.w) for f in self.frames if pyro.frame_name(f.label) == name)
        total, end = 0, -1
        for a, b in spans:
            if a >= end:
                total += b - a
                end = b
        return total


def record_svg(pyrometer, pid, outdir, duration=1, extra=()):
    rec = pyro.record(pyrometer, pid, outdir, "svg", duration=duration, extra=extra)
    return Svg(rec)


def samples_line(frame):
    m = re.search(r"^samples: (\d+) \((\d+\.\d\d)%\)$", frame.info, re.M)
    assert m, "no samples line in the tooltip of %r: %r" % (frame, frame.info)
    return int(m.group(1))


def shown(text):
    """How the SVG shows a name: control characters as \\xNN."""
    out = []
    for ch in text:
        c = ord(ch)
        if c < 0x20 or c == 0x7f:
            out.append("\\x%02x" % c)
        elif 0x80 <= c <= 0x9f:
            out.append("".join("\\x%02x" % b for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def hostile_cases():
    tree = ast.parse((pyro.WORKLOADS / "svg_hostile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "CASES":
            return ast.literal_eval(node.value)
    raise AssertionError("CASES not found in svg_hostile.py")


# ------------------------------------------------------------------ XML

def test_svg_ratio(debian_python, spawn, pyrometer, tmp_path):
    """A real recording: layout invariants, the hot functions, totals, title."""
    t = spawn(debian_python, "ratio.py")
    svg = record_svg(pyrometer, t.pid, tmp_path / "out")
    ctx = svg.rec.context
    three, one = svg.weight_of("ratio_three"), svg.weight_of("ratio_one")
    assert three > one > 0, "ratio_three (%d) should be wider than ratio_one (%d)%s" % (
        three, one, ctx)
    assert any(f.text.startswith("ratio_three (") for f in svg.frames), \
        "no frame label shows ratio_three" + ctx
    assert samples_line(svg.frames[0]) == svg.rec.summary.samples, \
        "'all' has %d samples, stderr says %d%s" % (
            samples_line(svg.frames[0]), svg.rec.summary.samples, ctx)
    assert not any(f.label.startswith("thread ") for f in svg.frames), \
        "thread root frames without --threads" + ctx
    title, sub = svg.text_of("title"), svg.text_of("subtitle")
    assert title.startswith("pyrometer: ") and "ratio.py" in title, "title is %r%s" % (title, ctx)
    assert "%d samples" % svg.rec.summary.samples in sub and "cpu-clock" in sub, \
        "subtitle is %r%s" % (sub, ctx)
    for ident in ("unzoom", "search", "details", "matched"):
        assert ident in svg.by_id, "no element with id %r%s" % (ident, ctx)


def test_svg_threads(debian_python, spawn, pyrometer, tmp_path):
    """--threads: a root per thread, each thread's function under its own root."""
    t = spawn(debian_python, "threads.py")
    tids = t.info["tids"]
    svg = record_svg(pyrometer, t.pid, tmp_path / "out", duration=0.5, extra=["--threads"])
    ctx = svg.rec.context
    roots = [f for f in svg.frames if f.d == 1]
    for f in roots:
        assert pyro.THREAD_ROOT_RE.match(f.label), "depth-1 frame %r is not a thread%s" % (f, ctx)
    for name, tid in tids.items():
        mine = [r for r in roots if int(pyro.THREAD_ROOT_RE.match(r.label).group(1)) == tid]
        assert len(mine) == 1, "%d roots for thread %d (%s)%s" % (len(mine), tid, name, ctx)
        r = mine[0]
        inside = [f for f in svg.frames if pyro.frame_name(f.label) == name]
        assert inside, "%s does not appear%s" % (name, ctx)
        for f in inside:
            assert r.s <= f.s and f.s + f.w <= r.s + r.w, \
                "%r is outside its thread's root %r%s" % (f, r, ctx)


def test_svg_hostile_names(debian_python, spawn, pyrometer, tmp_path):
    """Names that try to close elements, open scripts or end CDATA stay text."""
    t = spawn(debian_python, "svg_hostile.py")
    svg = record_svg(pyrometer, t.pid, tmp_path / "out")
    ctx = svg.rec.context
    raw = svg.rec.text
    for bad in ("<script>alert", "]]><script>", 'onmouseover="alert'):
        assert bad not in raw, "%r appears unescaped in the file%s" % (bad, ctx)
    for name, filename, _ in hostile_cases():
        prefix = "%s (%s:" % (shown(name), shown(filename))
        assert any(f.label.startswith(prefix) for f in svg.frames), \
            "no frame whose text starts with %r%s" % (prefix, ctx)


def test_svg_color_by_metric(debian_python, spawn, pyrometer, tmp_path):
    """--color-by faults/ksample: a legend, frames shaded, the metric in the tooltips."""
    t = spawn(debian_python, "events_pf.py")
    svg = record_svg(pyrometer, t.pid, tmp_path / "out",
                     extra=["-e", "cpu-clock,page-faults", "--color-by", "faults/ksample"])
    ctx = svg.rec.context
    assert "legend" in svg.by_id, "no legend" + ctx
    lo, hi = svg.text_of("legend-lo"), svg.text_of("legend-hi")
    assert lo.startswith("FLT/KS "), "legend starts %r%s" % (lo, ctx)
    touch = [f for f in svg.frames if pyro.frame_name(f.label) == "touch_pages"]
    assert touch, "touch_pages does not appear" + ctx
    values = [float(m.group(1)) for f in touch
              for m in [re.search(r"^FLT/KS: ([\d.]+)$", f.info, re.M)] if m]
    assert values and max(values) > 0, "no faults/ksample in touch_pages' tooltips%s" % ctx
    fills = {f.fill for f in svg.frames}
    assert len(fills) >= 2, "every frame has the colour %r%s" % (fills, ctx)


def test_svg_diff(debian_python, spawn, pyrometer, tmp_path):
    """`pyrometer diff` to .svg: a recording against itself is all unchanged;
    against another program, the new program's frames all grew."""
    a = spawn(debian_python, "ratio.py")
    b = spawn(debian_python, "lines.py")

    def record_pyro(t, name):
        out = tmp_path / name
        res = pyro.run([pyrometer, "record", "-p", t.pid, "-F", 500, "-d", 0.5, "-o", out],
                       timeout=60)
        assert res.returncode == 0 and out.exists(), "record to .pyro failed" + pyro.describe(res)
        return out

    base, cur = record_pyro(a, "a.pyro"), record_pyro(b, "b.pyro")

    def diff(x, y, name):
        out = tmp_path / name
        res = pyro.run([pyrometer, "diff", x, y, "-o", out], timeout=60)
        assert res.returncode == 0, "pyrometer diff failed" + pyro.describe(res)
        rec = pyro.Recording()
        rec.text = pyro.decode_utf8(out.read_bytes(), str(out))
        rec.context = pyro.describe(res) + "\n  output file:" + pyro._clip(rec.text)
        return Svg(rec)

    same = diff(base, base, "same.svg")
    ctx = same.rec.context
    for f in same.frames:
        assert re.search(r"^base ([\d.]+)%, now \1%, change \+0\.00 pp$", f.info, re.M), \
            "%r changed against itself: %r%s" % (f, f.info, ctx)
    assert len({f.fill for f in same.frames}) == 1, "unchanged frames in several colours" + ctx

    grew = diff(base, cur, "grew.svg")
    ctx = grew.rec.context
    hot = [f for f in grew.frames if pyro.frame_name(f.label) == "hot_lines"]
    assert hot, "hot_lines does not appear in the diff" + ctx
    for f in hot:
        assert re.search(r"^base 0\.00%, now ([\d.]+)%, change \+\1 pp$", f.info, re.M), \
            "%r is new but its tooltip says %r%s" % (f, f.info, ctx)
        r, g, b_ = map(int, re.match(r"^rgb\((\d+),(\d+),(\d+)\)$", f.fill).groups())
        assert r > g and r > b_, "%r grew but is coloured %s%s" % (f, f.fill, ctx)


# ------------------------------------------------------------------ browser

def _skip_unless_browser():
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed (Debian: apt-get install nodejs npm)")
    out = subprocess.run([node, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=60)
    m = re.match(r"^v(\d+)\.", out.stdout.decode("ascii", "replace"))
    if not m or int(m.group(1)) < NODE_MAJOR_MIN:
        pytest.skip("node %s is too old: playwright-core needs Node.js >= %d" % (
            out.stdout.decode("ascii", "replace").strip(), NODE_MAJOR_MIN))
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s is not installed (Debian: apt-get install chromium; or set CHROMIUM)" % CHROMIUM)
    if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").exists():
        npm = shutil.which("npm")
        if not npm:
            pytest.skip("npm is not installed (Debian: apt-get install npm) and "
                        "%s/node_modules is missing" % BROWSER_DIR)
        try:
            res = subprocess.run([npm, "ci", "--prefix", str(BROWSER_DIR), "--no-audit", "--no-fund"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci in %s did not finish within 300 s (no registry?)" % BROWSER_DIR)
        if res.returncode != 0:
            pytest.skip("npm ci in %s failed (no registry?): %s" % (
                BROWSER_DIR, res.stderr.decode("utf-8", "replace").strip()[-500:]))
    return node


def browse(svg_path, tmp_path, click=None, search=None, expect=()):
    node = _skip_unless_browser()
    cmd = [node, str(BROWSER_DIR / "svgcheck.js"), str(svg_path),
           "--screenshot", str(tmp_path / "screenshot.png")]
    if click is not None:
        cmd += ["--click", click]
    if search is not None:
        cmd += ["--search", search]
    for text in expect:
        cmd += ["--expect", text]
    env = dict(os.environ, CHROMIUM=CHROMIUM)
    res = pyro.run(cmd, timeout=120, env=env)
    lines = res.stdout.decode("utf-8", "replace").strip().split("\n")
    try:
        out = json.loads(lines[-1])
    except ValueError:
        pyro.fail("svgcheck.js printed no JSON" + pyro.describe(res))
    if "fatal" in out:
        pyro.fail("the browser could not be driven: %s%s" % (out["fatal"], pyro.describe(res)))
    return out


def check_page_clean(out, ctx):
    """No script from the document's text ran, no error, no dialog but our search prompts."""
    others = [d for d in out["dialogs"] if d["type"] != "prompt"]
    assert not others, "dialogs fired: %r%s" % (others, ctx)
    assert not out["pageErrors"], "script errors: %r%s" % (out["pageErrors"], ctx)
    assert not out["consoleErrors"], "console errors: %r%s" % (out["consoleErrors"], ctx)
    for state in ("initial", "final"):
        assert out[state]["scripts"] == 1, "%s: %d <script> elements%s" % (
            state, out[state]["scripts"], ctx)
    col = out["colours"]
    assert col["coloured"] >= 3, "the screenshot looks blank: %r%s" % (col, ctx)


def check_zoom(out, ctx):
    assert out.get("clickIndex", -1) >= 0, "the frame to click was not found" + ctx
    before, z, reset = out["beforeClick"], out["zoomed"], out["reset"]
    assert abs(z["frame"]["width"] - AVAIL) < 0.01 and abs(z["frame"]["x"] - PAD) < 0.01, \
        "after a click the frame is at x=%s width=%s, expected %d and %d%s" % (
            z["frame"]["x"], z["frame"]["width"], PAD, AVAIL, ctx)
    assert abs(z["rootWidth"] - AVAIL) < 0.01 and z["dimmed"] >= 1, \
        "ancestors should stay full width and dimmed: %r%s" % (z, ctx)
    assert z["unzoomVisible"], "'Reset Zoom' is not shown after a zoom" + ctx
    assert not reset["unzoomVisible"] and reset["hidden"] == 0 and reset["dimmed"] == 0, \
        "'Reset Zoom' did not restore the graph: %r%s" % (reset, ctx)
    assert abs(reset["frame"]["width"] - before["frame"]["width"]) < 0.01, \
        "width %s after reset, %s before%s" % (reset["frame"]["width"], before["frame"]["width"], ctx)


def check_search(out, ctx):
    prompts = [d for d in out["dialogs"] if d["type"] == "prompt"]
    assert len(prompts) == 2, "expected two search prompts (Ctrl-F, Search), got %r%s" % (
        out["dialogs"], ctx)
    for state in ("searchKey", "searchButton"):
        s = out[state]
        m = MATCHED_RE.match(s["matchedText"])
        assert s["matchedVisible"] and m and float(m.group(1)) > 0 and s["matches"] > 0, \
            "%s: search shows %r with %d frames highlighted%s" % (
                state, s["matchedText"], s["matches"], ctx)
        assert s["searchText"] == "Reset Search", "%s: control reads %r%s" % (
            state, s["searchText"], ctx)
    c = out["searchCleared"]
    assert c["matches"] == 0 and not c["matchedVisible"], \
        "'Reset Search' left %d frames highlighted%s" % (c["matches"], ctx)
    return float(MATCHED_RE.match(out["searchKey"]["matchedText"]).group(1))


def test_svg_in_browser(debian_python, spawn, pyrometer, tmp_path):
    """Chromium renders the graph, a click zooms, Reset Zoom and Ctrl-F / Search work."""
    _skip_unless_browser()
    t = spawn(debian_python, "ratio.py")
    svg = record_svg(pyrometer, t.pid, tmp_path / "out")
    ctx = svg.rec.context
    out = browse(svg.rec.path, tmp_path, click="ratio_three", search="ratio_(one|three)")
    ctx = "\n  browser: %s%s" % (json.dumps(out)[:3000], ctx)
    check_page_clean(out, ctx)
    check_zoom(out, ctx)
    assert out["zoomed"]["hidden"] > 0, "nothing was hidden by the zoom" + ctx
    assert out["hoverDetails"].startswith("ratio_three (") and "samples: " in out["hoverDetails"], \
        "details line on hover: %r%s" % (out["hoverDetails"], ctx)
    share = check_search(out, ctx)
    want = 100.0 * (svg.weight_of("ratio_three") + svg.weight_of("ratio_one")) / svg.total
    assert abs(share - want) <= 0.051, "Matched: %.1f%%, the frames add up to %.2f%%%s" % (
        share, want, ctx)


def test_svg_hostile_in_browser(debian_python, spawn, pyrometer, tmp_path):
    """Hostile names show as text in Chromium, and no script of theirs runs."""
    _skip_unless_browser()
    t = spawn(debian_python, "svg_hostile.py")
    svg = record_svg(pyrometer, t.pid, tmp_path / "out")
    cases = hostile_cases()
    names = [shown(n) for n, _, _ in cases]
    out = browse(svg.rec.path, tmp_path, click=names[0], search=r"alert\(1\)", expect=names)
    ctx = "\n  browser: %s%s" % (json.dumps(out)[:3000], svg.rec.context)
    check_page_clean(out, ctx)
    check_zoom(out, ctx)
    check_search(out, ctx)
    for name in names:
        e = out["expect"][name]
        assert e["inTitle"], "no frame tooltip holds %r%s" % (name, ctx)
        assert name in e.get("details", ""), "the details line on hover is %r, without %r%s" % (
            e.get("details"), name, ctx)
    assert out["expect"][names[0]]["inLabel"], "the widest hostile frame's label does not show %r%s" % (
        names[0], ctx)
