"""One thread spinning in one function until it expires."""
import time

import _common


def spin_forever():
    _common.ready()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(1000):
            x += i
    return x


spin_forever()
