"""Waits for the trigger, burns 0.5 s of CPU, then exits by itself."""
import time

import _common


def finishing_work():
    stop = time.process_time() + 0.5
    x = 0
    while time.process_time() < stop:
        for i in range(1000):
            x += i
    return x


_common.ready()
_common.wait_for_trigger()
finishing_work()
