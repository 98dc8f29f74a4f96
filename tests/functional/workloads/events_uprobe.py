"""A libpython function called by one Python function only.

parse_floats converts a string to a float in a loop, which goes through
PyFloat_FromString (an exported function every tested build calls out of
line); add_up only does integer arithmetic, which never does.  The two run
in alternating phases of several milliseconds.
"""
import time

import _common


def parse_floats(n):
    total = 0.0
    text = "1.5"
    for i in range(n):
        total += float(text)  # FLOAT-LINE
    return total


def add_up(n):
    total = 0
    for i in range(n):
        total += i * 3
    return total


def drive():
    announced = False
    while time.monotonic() < _common.DEADLINE:
        parse_floats(30000)
        add_up(100000)
        if not announced:
            _common.ready()
            announced = True


drive()
