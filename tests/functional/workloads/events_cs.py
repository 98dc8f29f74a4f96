"""Context switches: one function blocks on a pipe read, another computes.

wait_for_bytes asks a forked feeder process for a byte and blocks reading
the answer, which the feeder sends a millisecond later, 20 times per call;
compute only computes.  The feeder is another process, so its own switches
are not the target's.
"""
import os
import time

import _common


def wait_for_bytes(ask, answer, n):
    got = 0
    while got < n:
        os.write(ask, b"?")
        got += len(os.read(answer, 1))  # BLOCK-LINE
    return got


def compute(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def feeder(requests, replies):
    while not _common.expired():
        try:
            if not os.read(requests, 1):
                break          # the target closed its end: it is gone
            time.sleep(0.001)
            os.write(replies, b"x")
        except OSError:
            break
    os._exit(0)


def drive():
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    if os.fork() == 0:
        os.close(req_w)
        os.close(rep_r)
        feeder(req_r, rep_w)
    os.close(req_r)
    os.close(rep_w)
    announced = False
    while time.monotonic() < _common.DEADLINE:
        # compute phases of some 4-8 ms: long enough that compute holds
        # most of the CPU time (the 20 round trips cost ~1-3 ms of it),
        # short enough that the scheduler's preemptions of a computing
        # thread on a busy machine (those switches are compute's) stay few
        wait_for_bytes(req_w, rep_r, 20)
        compute(80000)
        if not announced:
            _common.ready()
            announced = True


drive()
