"""One line touches fresh pages, the lines around it compute.

Each pass allocates a 40 MB bytearray (above glibc's largest mmap threshold,
so a fresh mapping whose pages fault in as it is zeroed) on the marked line,
then spends about as long computing on other lines. A Python stack read
some microseconds after a fault has often moved on to the computing lines;
one read at the fault is on the marked line.
"""
import time

import _common

SIZE = 40 << 20


def loop():
    announced = False
    total = 0
    while time.monotonic() < _common.DEADLINE:
        b = bytearray(SIZE)  # TOUCH-LINE
        total += len(b)
        del b
        for i in range(150000):
            total += i * i
        if not announced:
            _common.ready()
            announced = True
    return total


loop()
