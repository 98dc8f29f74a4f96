"""Two functions sharing the CPU in a set proportion (environment variable
PYRO_GROWER_SHARE: grower's share, 0 to 1, default 0.25), in rapid
alternation, for comparing two recordings."""
import os
import time

import _common

SHARE = float(os.environ.get("PYRO_GROWER_SHARE", "0.25"))


def steady(n):
    total = 0
    for i in range(n):
        total += i
    return total


def grower(n):
    total = 0
    for i in range(n):
        total += i
    return total


def drive():
    announced = False
    unit = 2000
    while time.monotonic() < _common.DEADLINE:
        # the same work per call: the time split follows the call split
        grow = int(round(20 * SHARE))
        for _ in range(grow):
            grower(unit)
        for _ in range(20 - grow):
            steady(unit)
        if not announced:
            _common.ready()
            announced = True


drive()
