"""Started by pyrometer itself (record -- python launch_exit.py HOW SECONDS).

The first thing it runs is first_function, for a fraction of SECONDS; then
then_the_rest for the remainder, and it ends as HOW says: an exit status
(a number), or "kill" (SIGKILL to itself).  Standalone: no ready file.
"""
import os
import signal
import sys
import time


def first_function(until):
    total = 0
    while time.monotonic() < until:
        for i in range(1000):
            total += i
    return total


def then_the_rest(until):
    total = 0
    while time.monotonic() < until:
        for i in range(1000):
            total ^= i
    return total


how = sys.argv[1]
seconds = float(sys.argv[2])
start = time.monotonic()
first_function(start + seconds / 3)
then_the_rest(start + seconds)
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(how))
