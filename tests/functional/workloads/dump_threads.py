"""Three threads with distinct functions: the main one waits, one spins, one sleeps."""
import threading
import time

import _common

tids = {}
started = threading.Semaphore(0)


def dump_worker_spin():
    tids["dump_worker_spin"] = threading.get_native_id()
    started.release()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def dump_worker_sleep():
    tids["dump_worker_sleep"] = threading.get_native_id()
    started.release()
    while time.monotonic() < _common.DEADLINE:
        time.sleep(0.01)


def dump_main_thread():
    tids["dump_main_thread"] = threading.get_native_id()
    workers = [threading.Thread(target=fn, daemon=True) for fn in (dump_worker_spin, dump_worker_sleep)]
    for t in workers:
        t.start()
    for _ in workers:
        started.acquire()
    _common.ready(tids=dict(tids))
    while time.monotonic() < _common.DEADLINE:
        time.sleep(0.01)


dump_main_thread()
