"""A small CPU-bound program for `make demo` to profile.

Three threads do three kinds of work, each with a few named functions whose
weights differ, so a profile has something to show:

  main thread               tokenize() and count_words() over generated text
  thread "numeric"          mandelbrot_row() and its inner escape_time()
  thread "ranker"           rank_records() sorting with record_key(), then a
                            short sleep, so it weighs less than the others

When everything is running the program prints "ready PID" on stdout. It runs
until it is killed, and exits by itself after 120 seconds (or the number of
seconds given as the first argument) so a forgotten demo does not spin forever.
Works on Python 3.8 and later, standard library only.
"""

import os
import random
import sys
import threading
import time

WORDS = ("alpha", "beta", "gamma", "delta", "profile", "sample", "stack",
         "frame", "thread", "kernel", "python", "line", "count", "event")


def set_os_thread_name(name):
    """Name the calling thread for the kernel (/proc/PID/task/TID/comm), which
    is what `pyrometer record --threads` shows; Python before 3.14 does not."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        zero = ctypes.c_ulong(0)
        libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), zero, zero, zero)  # PR_SET_NAME
    except (OSError, AttributeError, ImportError):
        pass


def allow_any_tracer():
    """Under Yama's ptrace_scope=1 only ancestors may read a process's memory.
    pyrometer is this workload's sibling, not its parent, so the demo declares
    that any process of the same user may read it (PR_SET_PTRACER_ANY)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        zero = ctypes.c_ulong(0)
        # PR_SET_PTRACER, PR_SET_PTRACER_ANY
        libc.prctl(0x59616D61, ctypes.c_ulong(0xFFFFFFFFFFFFFFFF), zero, zero, zero)
    except (OSError, AttributeError, ImportError):
        pass


def make_text(rng, n_lines):
    lines = []
    for _ in range(n_lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 12))]
        number = rng.randint(0, 99999)
        lines.append("%s = %d; # %s" % ("_".join(words[:2]), number, " ".join(words)))
    return "\n".join(lines)


def tokenize(text):
    """A hand-written scanner: the hottest code in the demo."""
    tokens = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(("name", text[i:j]))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and text[j].isdigit():
                j += 1
            tokens.append(("number", int(text[i:j])))
            i = j
        else:
            tokens.append(("op", c))
            i += 1
    return tokens


def count_words(tokens):
    counts = {}
    for kind, value in tokens:
        if kind == "name":
            for part in value.split("_"):
                counts[part] = counts.get(part, 0) + 1
    return counts


def tokenizer_loop(deadline):
    rng = random.Random(1)
    text = make_text(rng, 400)
    while time.monotonic() < deadline:
        count_words(tokenize(text))


def escape_time(cr, ci, limit):
    zr = zi = 0.0
    for k in range(limit):
        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
        if zr * zr + zi * zi > 4.0:
            return k
    return limit


def mandelbrot_row(y, width, height):
    ci = 2.0 * y / height - 1.0
    return [escape_time(3.0 * x / width - 2.0, ci, 60) for x in range(width)]


def numeric_loop(deadline):
    set_os_thread_name("numeric")
    while time.monotonic() < deadline:
        for y in range(40):
            mandelbrot_row(y, 60, 40)


def record_key(record):
    name, score, stamp = record
    return (-score, name.lower(), stamp)


def rank_records(records):
    return sorted(records, key=record_key)[:10]


def ranker_loop(deadline):
    set_os_thread_name("ranker")
    rng = random.Random(2)
    records = [(rng.choice(WORDS).upper() + str(i), rng.randint(0, 100), rng.random())
               for i in range(3000)]
    while time.monotonic() < deadline:
        rank_records(records)
        time.sleep(0.005)


def main():
    lifetime = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    deadline = time.monotonic() + lifetime
    allow_any_tracer()
    workers = [threading.Thread(target=numeric_loop, args=(deadline,), name="numeric", daemon=True),
               threading.Thread(target=ranker_loop, args=(deadline,), name="ranker", daemon=True)]
    for t in workers:
        t.start()
    print("ready %d" % os.getpid(), flush=True)
    tokenizer_loop(deadline)
    for t in workers:
        t.join()


if __name__ == "__main__":
    main()
