"""Alternates every 2 ms (or argv[2] seconds) between a zlib phase and a libm phase.

crc_part only calls zlib.crc32 (its time goes into libz), math_part only
calls math.sin / math.exp / math.log (their time goes into libm).  A
profiler that joins each native stack to the Python stack of the same
moment puts libz leaves under crc_part and libm leaves under math_part.
"""
import math
import sys
import time
import zlib

import _common

DATA = bytes(range(256)) * 256          # 64 KiB
# Phase length in seconds: argv[2], default 2 ms.
PHASE = float(sys.argv[2]) if len(sys.argv) > 2 else 0.002
SMALL = [0.5 + i / 64.0 for i in range(64)]
BIG = [1e22 + i * 1e7 for i in range(64)]


def crc_part():
    stop = time.perf_counter() + PHASE
    crc = 0
    while time.perf_counter() < stop:
        crc = zlib.crc32(DATA, crc)
    return crc


def math_part():
    stop = time.perf_counter() + PHASE
    acc = 0.0
    while time.perf_counter() < stop:
        # map() and sum() are C, so libm's share is large; sin of arguments
        # this big takes libm's slow (Payne-Hanek) range reduction.
        acc += sum(map(math.sin, BIG)) + sum(map(math.exp, SMALL)) + sum(map(math.log, SMALL))
    return acc


def drive():
    announced = False
    while time.monotonic() < _common.DEADLINE:
        crc_part()
        math_part()
        if not announced:
            _common.ready()
            announced = True


drive()
