"""Threads created and destroyed without pause, each running one of two
functions for a some 20 milliseconds; the main thread only starts them.

Every thread appends "TID FUNCTION" to the log (argv[1] + ".log") before it
computes, so a test can check that each thread's samples show its own
function and never the other one.
"""
import os
import threading
import time

import _common

LOG = _common.READY + ".log"
log_lock = threading.Lock()
log = open(LOG, "a")


def note(name):
    with log_lock:
        log.write("%d %s\n" % (threading.get_native_id(), name))
        log.flush()


def spin(sign):
    x = 0
    end = time.monotonic() + 0.02
    while time.monotonic() < end:
        for i in range(200):
            x += sign * i
    return x


def churn_even():
    note("churn_even")
    return spin(1)


def churn_odd():
    note("churn_odd")
    return spin(-1)


def spawn_loop():
    n = 0
    while time.monotonic() < _common.DEADLINE:
        ts = [threading.Thread(target=churn_even if (n + k) % 2 == 0 else churn_odd)
              for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        n += 2
        if n == 20:
            _common.ready(log=LOG)


spawn_loop()
