"""Matrix products with numpy (only run under an interpreter that has it)."""
import os
import time

# One BLAS thread, so the products run on the thread that called them.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy  # noqa: E402

import _common  # noqa: E402


def matmul_loop(a, b):
    c = None
    for _ in range(4):
        c = a @ b
    return c


def drive():
    a = numpy.arange(300 * 300, dtype=numpy.float64).reshape(300, 300) / 90000.0
    b = a.T.copy()
    announced = False
    while time.monotonic() < _common.DEADLINE:
        matmul_loop(a, b)
        if not announced:
            _common.ready()
            announced = True


drive()
