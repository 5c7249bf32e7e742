"""Keep freed memory in the process for the next batch: with glibc's defaults the CPU encoders spend more
time in the kernel than computing.

glibc gives every allocation above its mmap threshold (at most 32 MB by default) a mapping of its own and
unmaps it when it is freed, and it trims the heap whenever 128 KB lie free at its top. A network run on a
batch allocates and frees activations of tens of megabytes per layer, so each one is mapped, faulted in and
zero-filled page by page, and unmapped again, batch after batch. On 2 cores, EfficientNet-Lite2 on batches of
64 posters ran at 13.5 posters/s with half of its CPU time in the kernel, and at 41 posters/s with freed
memory kept (benchmarks/results/main-job-*.json). The process keeps its peak heap instead: what the largest
batch needed.

Linux with glibc only; elsewhere (or with MMGENRE_MALLOC=system) nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from functools import cache

log = logging.getLogger("mmgenre")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
KEEP = 2**31 - 1  # bytes: never trim, never map an allocation on its own (glibc >= 2.35 takes any int)
GLIBC_MMAP_MAX = 32 * 2**20  # the highest mmap threshold older glibc versions accept


@cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory (once per process); True when it took the setting."""
    if os.environ.get("MMGENRE_MALLOC", "keep") == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    kept = mallopt(M_TRIM_THRESHOLD, KEEP) == 1
    kept = (mallopt(M_MMAP_THRESHOLD, KEEP) == 1 or mallopt(M_MMAP_THRESHOLD, GLIBC_MMAP_MAX) == 1) and kept
    log.debug("malloc keeps freed memory: %s", kept)
    return kept
