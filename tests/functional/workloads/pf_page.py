"""One line touches one fresh page, the lines after it compute for longer.

A 64 MB anonymous mapping is touched one page per pass (a page fault of a
microsecond or two on the marked line), then the pass computes for some tens
of microseconds on other lines; a used-up mapping is replaced by a fresh
one. A Python stack read a little after the fault is on the computing lines;
one read at the fault is on the marked line.
"""
import mmap
import time

import _common

SIZE = 64 << 20
PAGE = 4096


def loop():
    announced = False
    total = 0
    m = mmap.mmap(-1, SIZE)
    off = 0
    while time.monotonic() < _common.DEADLINE:
        m[off] = 1  # TOUCH-LINE
        off += PAGE
        for i in range(200):
            total += i * i
        if off == SIZE:
            m.close()
            m = mmap.mmap(-1, SIZE)
            off = 0
        if not announced:
            _common.ready()
            announced = True
    return total


loop()
