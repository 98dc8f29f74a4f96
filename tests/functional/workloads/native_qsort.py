"""Sorts an int array with libc's qsort through ctypes, comparing in Python.

Most of the CPU goes to qsort and the callbacks it makes into `cmp`, all
below `sort_rows`.  The array is refilled from a template with memmove (a
C call), so almost nothing else runs inside sort_rows.
"""
import ctypes
import time

import _common

N = 2000
LIBC = ctypes.CDLL("libc.so.6")
LIBC.qsort.restype = None
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def cmp(a, b):
    return a[0] - b[0]


CALLBACK = CMP(cmp)
SIZE = ctypes.sizeof(ctypes.c_int)


def sort_rows(rows, template):
    ctypes.memmove(rows, template, N * SIZE)
    LIBC.qsort(rows, N, SIZE, CALLBACK)


def drive():
    seed = 12345
    values = []
    for _ in range(N):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        values.append(seed >> 8)
    template = (ctypes.c_int * N)(*values)
    rows = (ctypes.c_int * N)()
    announced = False
    while time.monotonic() < _common.DEADLINE:
        sort_rows(rows, template)
        if not announced:
            assert list(rows) == sorted(values)
            _common.ready()
            announced = True


drive()
