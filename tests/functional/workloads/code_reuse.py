"""A function's code object is freed and another function's code object is
made at the same address; both run for the same CPU time.

Waits for the trigger, then runs twenty alpha_phase functions (15 ms of CPU
each, 0.3 s in all), drops them, makes omega_phase functions until one's
code object sits where an alpha_phase code object was (CPython reuses freed
blocks at once), and runs that one for 0.3 s of CPU.  A profiler that trusts
a name it decoded for an address without checking the object there still is
the same shows omega_phase's samples as alpha_phase.  Writes
{"reused": True/False, "tries": N} to argv[1] + ".reuse" and exits (status 4
if no address was reused).
"""
import gc
import sys
import time

import _common

SOURCE = '''
def {name}(seconds):
    total = 0
    stop = time.process_time() + seconds
    while time.process_time() < stop:
        for i in range(1000):
            total += i
    return total
'''


def make(name):
    space = {"time": time}
    exec(compile(SOURCE.format(name=name), __file__, "exec"), space)
    return space[name]


_common.ready()
_common.wait_for_trigger()

alphas = [make("alpha_phase") for _ in range(20)]
freed = set()
for f in alphas:
    f(0.015)
    freed.add(id(f.__code__))
del f, alphas
gc.collect()

kept = []
omega = make("omega_phase")
while id(omega.__code__) not in freed and len(kept) < 500:
    kept.append(omega)
    omega = make("omega_phase")
reused = id(omega.__code__) in freed
_common.publish(_common.READY + ".reuse", {"reused": reused, "tries": len(kept) + 1})
if not reused:
    sys.exit(4)
omega(0.3)
