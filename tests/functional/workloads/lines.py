"""A loop whose body has one expensive line and two cheap ones."""
import time

import _common


def hot_lines():
    _common.ready()
    c = 0
    while time.monotonic() < _common.DEADLINE:
        for _ in range(500):
            a = 1
            b = sum(range(200))  # EXPENSIVE-LINE
            c = a + b
    return c


hot_lines()
