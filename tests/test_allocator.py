"""Freed memory is kept for the next batch: a large buffer allocated again is not faulted in page by page."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, json, resource
from mmgenre.features.allocator import keep_freed_memory

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]

def fill_and_free(size=128 * 2**20):  # what an activation of a batch goes through
    buffer = libc.malloc(size)
    ctypes.memset(buffer, 1, size)
    libc.free(buffer)

kept = keep_freed_memory()
fill_and_free()  # once: the heap now has room for it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    fill_and_free()
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""
PAGES = 5 * 128 * 2**20 // 4096  # what five fresh 128 MB buffers fault in


def probe(**env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    kept = probe()
    assert kept["kept"] is True
    assert kept["faults"] < PAGES // 20  # reused: the pages are already there

    system = probe(MMGENRE_MALLOC="system")  # glibc's defaults: each buffer mapped and unmapped
    assert system["kept"] is False
    assert system["faults"] > PAGES // 2
