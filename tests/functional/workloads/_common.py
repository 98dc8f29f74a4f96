"""Helpers shared by the functional-test workloads.

Workloads run under every tested interpreter, including Debian sid's
"-minimal" 3.14/3.15 builds, so only the core of the standard library is
used here: no json, ctypes or random.  Python 3.8 syntax.

Protocol with the test harness:
  argv[1]            path of the ready file; the workload writes repr(dict)
                     there (atomically) once it is in the state to profile.
  argv[1] + ".go"    trigger file that some workloads wait for.
  PYRO_TEST_LIFETIME seconds after which every workload stops by itself
                     (default 60), so nothing is left behind.
"""
import os
import sys
import threading
import time

READY = sys.argv[1]
TRIGGER = READY + ".go"
LIFETIME = float(os.environ.get("PYRO_TEST_LIFETIME", "60"))
# Hot loops test `time.monotonic() < DEADLINE` inline (a C call, so no extra
# Python frame shows up in the samples).
DEADLINE = time.monotonic() + LIFETIME


def expired():
    return time.monotonic() > DEADLINE


def publish(path, info):
    tmp = path + ".part"
    with open(tmp, "w") as f:
        f.write(repr(info))
    os.rename(tmp, path)


def ready(**info):
    info.setdefault("pid", os.getpid())
    info.setdefault("main_tid", threading.get_native_id())
    publish(READY, info)


def wait_for_trigger():
    while not os.path.exists(TRIGGER):
        if expired():
            sys.exit(3)
        time.sleep(0.005)


def comm(tid):
    """Kernel name of one of our threads (what --threads must print)."""
    try:
        with open("/proc/self/task/%d/comm" % tid) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None
