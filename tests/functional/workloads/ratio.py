"""Two functions with identical bodies, called 3:1 in rapid alternation.

Work sizes are drawn from the same pseudo-random distribution for both, so
the only difference between them is how often they run, and the sampling
clock cannot lock onto a fixed period of the loop.
"""
import time

import _common


def ratio_three(n):
    total = 0
    for i in range(n):
        total += i
    return total


def ratio_one(n):
    total = 0
    for i in range(n):
        total += i
    return total


def drive():
    seed = 20240611
    announced = False
    while time.monotonic() < _common.DEADLINE:
        for _ in range(50):
            for _ in range(3):
                seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
                ratio_three(300 + (seed >> 8) % 601)
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            ratio_one(300 + (seed >> 8) % 601)
        if not announced:
            _common.ready()
            announced = True


drive()
