# -*- coding: utf-8 -*-
"""A hot function whose name is not ASCII."""
import time

import _common


def wörk_日本():
    _common.ready()
    x = 0
    while time.monotonic() < _common.DEADLINE:
        for i in range(1000):
            x += i  # HOT-LINE
    return x


wörk_日本()
