"""Fixed CPU-bound work for tools/bench.

The program starts, prints "ready" on stdout and blocks reading one line from
stdin, so that the benchmark can attach pyrometer before any work is done. Then
it runs a fixed amount of pure-Python work (single thread, stack under 10
frames deep), with no output while it works, and writes one JSON line:

    {"wall": <seconds>, "cpu": <seconds>, "python": "3.11.2", "check": <int>}

wall and cpu (time.process_time) cover the work only. The optional first
argument scales the amount of work (1.0 takes about 3-4 s on Python 3.11 on the
machines this was written on). Works on Python 3.8 and later.
"""

import json
import platform
import sys
import time


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def collatz_block(start, count):
    best = 0
    for n in range(start, start + count):
        best = max(best, collatz_steps(n))
    return best


def word_hash(word):
    h = 2166136261
    for ch in word:
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return h


def hash_block(words):
    table = {}
    for w in words:
        table[word_hash(w) & 1023] = w
    return len(table)


def run(scale):
    check = 0
    words = ["w%05d_%s" % (i, "xyz" * (i % 7)) for i in range(2000)]
    for round_no in range(max(1, int(50 * scale))):
        check += collatz_block(1 + round_no * 5000, 5000)
        check += hash_block(words)
    return check


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    check = run(scale)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sys.stdout.write(json.dumps({"wall": wall, "cpu": cpu,
                                 "python": platform.python_version(),
                                 "check": check}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
