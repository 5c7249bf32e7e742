"""Packing embeddings into cache entries: float16 when the values fit, float32 otherwise."""

from __future__ import annotations

import numpy as np

FLOAT16_LIMIT = 60000.0


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


def unpack(meta: dict, data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=meta["dtype"]).reshape(meta["shape"])
