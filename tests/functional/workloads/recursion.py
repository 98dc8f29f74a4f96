"""Recurse 300 levels deep, then spin at the bottom."""
import time

import _common

DEPTH = 300


def descend(n):
    if n:
        return descend(n - 1)
    return bottom()


def bottom():
    _common.ready(depth=DEPTH)
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(1000):
            x += i
    return x


descend(DEPTH)
