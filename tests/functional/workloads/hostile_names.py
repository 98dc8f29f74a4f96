"""Hot functions whose names and file names need escaping in every output.

Each function is compiled from source under a made-up file name, then its
code object is renamed (co_name, and co_qualname on 3.11+).  The cases are
listed in CASES, which the test imports to compute the expected text.
"""
import time

import _common

# (function name, file name)
CASES = [
    ('=SUM(1,2);"x"', '+hostile;"file",\n.py'),  # formula, comma, quote, ';', newline
    ("café_crème", "/tmp/ünïcode/café.py"),      # non-ASCII that fits in Latin-1
    ("fire_\U0001F525", "@at home.py"),             # outside the BMP; formula in file
    ("-neg", "<hostile-4>"),                         # formula in the function name
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
    fns = [make(n, f) for n, f in CASES]
    announced = False
    while time.monotonic() < _common.DEADLINE:
        for _ in range(20):
            for fn in fns:
                fn(2000)
        if not announced:
            _common.ready()
            announced = True


if __name__ == "__main__":
    drive_hostile()
