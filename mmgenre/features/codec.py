"""Packing embeddings into cache entries (float16 when the values fit, float32 otherwise), and checking an
entry read back (from the cache or another machine's shard) before it is used: a damaged or non-finite entry
is named and left out, never turned into NaN scores."""

from __future__ import annotations

import math

import numpy as np

from mmgenre.errors import MmgenreError

FLOAT16_LIMIT = 60000.0
DTYPES = {"float16": 2, "float32": 4}
MAX_SIZE = 2**24  # values in one entry: a token sequence is at most a few hundred by a few thousand


class DamagedEntry(MmgenreError):
    """A cache entry whose meta and bytes are not an array mmgenre wrote."""


def compact(array: np.ndarray) -> np.ndarray:
    """float16 when every value is finite and within float16's range, else float32."""
    array = np.asarray(array, dtype=np.float32)
    if np.isfinite(array).all() and (array.size == 0 or np.abs(array).max() < FLOAT16_LIMIT):
        return array.astype(np.float16)
    return array


def pack(array: np.ndarray) -> tuple[dict, bytes]:
    """An array -> (meta, bytes) for the cache."""
    stored = compact(array)
    return {"dtype": str(stored.dtype), "shape": list(stored.shape)}, stored.tobytes()


def array_problem(meta: object, data: object) -> str | None:
    """What makes (meta, data) something other than a finite float array; None when nothing does."""
    if not isinstance(meta, dict):
        return "its description is not a JSON object"
    dtype, shape = meta.get("dtype"), meta.get("shape")
    if dtype not in DTYPES:
        return f"its type {str(dtype)[:40]!r} is not float16 or float32"
    if not (isinstance(shape, list) and 1 <= len(shape) <= 2 and all(type(n) is int and n >= 0 for n in shape)):
        return "its shape is not one or two sizes"
    if math.prod(shape) > MAX_SIZE:
        return f"its shape {shape} is larger than any feature"
    if not isinstance(data, bytes) or len(data) != math.prod(shape) * DTYPES[dtype]:
        return f"its bytes do not hold an array of shape {shape}"
    if not np.isfinite(np.frombuffer(data, dtype=dtype)).all():
        return "it holds numbers that are not finite (NaN or infinity)"
    return None


def text_problem(meta: object) -> str | None:
    """What makes an OCR entry's meta something other than an OCR result; None when nothing does."""
    if not (isinstance(meta, dict) and isinstance(meta.get("text"), str)):
        return "it is not an OCR result (no text)"
    return None


def unpack(meta: dict, data: bytes) -> np.ndarray:
    problem = array_problem(meta, data)
    if problem:
        raise DamagedEntry(problem)
    return np.frombuffer(data, dtype=meta["dtype"]).reshape(meta["shape"])
