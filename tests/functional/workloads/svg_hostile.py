"""Hot functions whose names try to break out of an SVG document.

Like hostile_names.py, each function is compiled under a made-up file name
and its code object renamed.  The first name closes the <text> element and
opens a <script>; the second ends a CDATA section; the third closes an
attribute and carries control characters.  The first does four times the
work of the others, so it is the widest frame.  test_svg.py imports CASES.
"""
import time

import _common

# (function name, file name, work per call)
CASES = [
    ("</text><script>alert(1)</script>", "<svg>&amp;.py", 4000),
    ("]]><script>alert(2)</script><![CDATA[", "quote\"'.py", 1000),
    ('x" onmouseover="alert(3)\x01\x7f', "ctl\x1b[31m.py", 1000),
]

SOURCE = """\
def f(n):
    x = 0
    for i in range(n):
        x += i
    return x
"""


def make(name, filename):
    ns = {}
    exec(compile(SOURCE, filename, "exec"), ns)
    fn = ns["f"]
    code = fn.__code__
    if hasattr(code, "co_qualname"):
        fn.__code__ = code.replace(co_name=name, co_qualname=name)
    else:
        fn.__code__ = code.replace(co_name=name)
    return fn


def drive_hostile():
    work = [(make(n, f), size) for n, f, size in CASES]
    announced = False
    while time.monotonic() < _common.DEADLINE:
        for _ in range(20):
            for fn, size in work:
                fn(size)
        if not announced:
            _common.ready()
            announced = True


if __name__ == "__main__":
    drive_hostile()
