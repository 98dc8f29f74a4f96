"""multiprocessing with two worker processes that run worker_task, for
record --subprocesses.  Launched by pyrometer (record -- python
mp_workers.py SECONDS): the main process waits for its workers."""
import multiprocessing
import os
import sys
import time


def worker_task(seconds):
    end = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end:
        for i in range(1000):
            total += i * i
    return os.getpid()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    # let the profiler see the parent first
    time.sleep(0.2)
    with multiprocessing.Pool(2) as pool:
        pids = pool.map(worker_task, [seconds, seconds])
    print(" ".join(str(p) for p in sorted(set(pids))))


if __name__ == "__main__":
    main()
