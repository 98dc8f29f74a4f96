"""Waits for the trigger file, which holds the path of a shared library,
then loads it with ctypes (a dlopen after pyrometer attached) and calls its
late_hot() in a loop.
"""
import ctypes
import time

import _common


def call_late(lib):
    while time.monotonic() < _common.DEADLINE:
        lib.late_hot(200000)


def main():
    _common.ready()
    _common.wait_for_trigger()
    with open(_common.TRIGGER) as f:
        path = f.read().strip()
    lib = ctypes.CDLL(path)
    lib.late_hot.restype = ctypes.c_ulong
    lib.late_hot.argtypes = [ctypes.c_ulong]
    _common.publish(_common.READY + ".loaded", {"lib": path})
    call_late(lib)


main()
