"""Starts its threads only after the trigger (i.e. after the profiler attached)."""
import threading
import time

import _common

tids = {}
started = threading.Semaphore(0)


def late_worker_one():
    tids["late_worker_one"] = threading.get_native_id()
    started.release()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def late_worker_two():
    tids["late_worker_two"] = threading.get_native_id()
    started.release()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


_common.ready()
_common.wait_for_trigger()
threads = [threading.Thread(target=fn, daemon=True) for fn in (late_worker_one, late_worker_two)]
for t in threads:
    t.start()
for _ in threads:
    started.acquire()
_common.publish(_common.READY + ".late", {"tids": dict(tids)})
for t in threads:
    t.join()
