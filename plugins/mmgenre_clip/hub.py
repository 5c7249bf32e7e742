"""Reaching the Hugging Face Hub, or failing at once (not after a minute of retries) when it can't be."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from mmgenre.api import ComponentUnavailableError


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host accepts a TCP connection (False at once with HF_HUB_OFFLINE=1)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextmanager
def offline_hub() -> Iterator[None]:
    """Make huggingface_hub use its local cache only, without network retries."""
    from huggingface_hub import constants

    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous


def file_stamp(path: str) -> str:
    """Name, size and modification time of a local weights file or folder, for cache keys ('missing' for a path
    that does not exist: `load` then says so, with what was tried)."""
    target = Path(path).expanduser()
    try:
        stat = target.stat()
    except OSError:
        return f"{target.name}:missing"
    return f"{target.name}:{stat.st_size}:{int(stat.st_mtime)}"


def weights_unavailable(what: str, tried: list[str], key: str, error: Exception | None) -> ComponentUnavailableError:
    reason = f" Last error: {str(error).splitlines()[0][:300]}" if error else ""
    return ComponentUnavailableError(
        f"cannot load {what}: tried {'; '.join(tried)}.{reason} Provide local weights with "
        f"--set {key}.params.weights=/path/to/weights (a file or a folder), or run once with network "
        "access so they are cached."
    )


def check_local(path: str, what: str, key: str) -> Path:
    target = Path(path).expanduser()
    if not target.exists():
        raise weights_unavailable(what, [f"the local path {target} (it does not exist)"], key, None)
    return target


class LocalWeights:
    """Mixin for encoders with a `weights` param: a local file's size and date join the cache key."""

    def identity(self) -> dict:
        identity = super().identity()  # type: ignore[misc]
        if self.params.weights:  # type: ignore[attr-defined]
            identity["weights_stamp"] = file_stamp(self.params.weights)  # type: ignore[attr-defined]
        return identity
