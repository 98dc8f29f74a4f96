"""Page faults against pure computation, in alternating phases.

touch_pages allocates a fresh 40 MB bytearray (above glibc's largest mmap
threshold, so every allocation is a new anonymous mapping whose pages fault
in as the bytearray is zeroed) on the marked line, then computes on other
lines; compute only computes.  Each phase lasts tens of milliseconds, long
next to a sampling interval, so counts read with a sample belong to the
phase the sample lands in except at phase edges.
"""
import time

import _common

SIZE = 40 << 20


def touch_pages(n):
    total = 0
    for k in range(2):
        b = bytearray(SIZE)  # TOUCH-LINE
        for i in range(n):
            total += i * k
        total += len(b)
        del b
    return total


def compute(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def drive():
    announced = False
    while time.monotonic() < _common.DEADLINE:
        touch_pages(20000)
        compute(300000)
        if not announced:
            _common.ready()
            announced = True


drive()
