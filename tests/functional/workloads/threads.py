"""Four threads, each running its own differently named function."""
import threading
import time

import _common

tids = {}
started = threading.Semaphore(0)


def register(name):
    tids[name] = threading.get_native_id()
    started.release()


def spin_alpha():
    register("spin_alpha")
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def spin_beta():
    register("spin_beta")
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def spin_gamma():
    register("spin_gamma")
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


def spin_delta():
    register("spin_delta")
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(2000):
            x += i


threads = [
    threading.Thread(target=fn, name=fn.__name__.replace("spin_", "") + "-worker", daemon=True)
    for fn in (spin_alpha, spin_beta, spin_gamma, spin_delta)
]
for t in threads:
    t.start()
for _ in threads:
    started.acquire()
_common.ready(tids=dict(tids), comms={n: _common.comm(t) for n, t in tids.items()})
for t in threads:
    t.join()
