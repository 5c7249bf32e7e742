"""Handing freed heap memory back to the OS after each batch.

glibc keeps what torch and ONNX Runtime free, and batches of changing shapes fragment it, so a server's resident
memory creeps up request after request although nothing leaks (measured on the tiny run, 600 posters in batches
of 1 to 8: +390 MB without this, +24 MB with it, about 15 ms per batch). A no-op where the C library isn't glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
