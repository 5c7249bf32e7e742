"""Choosing the torch device for a run."""

from __future__ import annotations


def resolve_device(requested: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; anything else is passed through."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        from mmgenre.errors import MmgenreError

        raise MmgenreError(f"device '{requested}' was requested but no CUDA GPU is available")
    return requested
