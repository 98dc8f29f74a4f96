"""Three threads with distinct functions: the main one sleeps in a loop, one
worker spins, one sleeps.

Once the ready file exists each thread's innermost Python frame is its own
function for good: after that point they only call C functions (time.*,
open, os.rename), so a dump can never catch one inside a helper.
"""
import os
import threading
import time

import _common

tids = {}


def dump_worker_spin():
    tids["dump_worker_spin"] = threading.get_native_id()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def dump_worker_sleep():
    tids["dump_worker_sleep"] = threading.get_native_id()
    while time.monotonic() < _common.DEADLINE:
        time.sleep(0.01)


def dump_main_thread():
    tids["dump_main_thread"] = threading.get_native_id()
    workers = [threading.Thread(target=fn, daemon=True) for fn in (dump_worker_spin, dump_worker_sleep)]
    for t in workers:
        t.start()
    while len(tids) < 3:
        time.sleep(0.001)
    # Publish the ready file inline (C calls only), then loop.
    with open(_common.READY + ".part", "w") as f:
        f.write(repr({"pid": os.getpid(), "tids": dict(tids)}))
    os.rename(_common.READY + ".part", _common.READY)
    while time.monotonic() < _common.DEADLINE:
        time.sleep(0.01)


dump_main_thread()
