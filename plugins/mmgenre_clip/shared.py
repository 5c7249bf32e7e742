"""Loaded CLIP models shared by the towers that hold them, and freed when none does."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any


class Loaded:
    """A loaded model (and what comes with it); encoders keep a reference for as long as they use it."""

    def __init__(self, value: Any) -> None:
        self.value = value


class SharedModels:
    """One model per (source, device) while some encoder holds it, so the image and text towers of one CLIP
    share its weights; weak references, so nothing is kept alive by this table."""

    def __init__(self) -> None:
        self._loaded: weakref.WeakValueDictionary[Hashable, Loaded] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self, key: Hashable, create: Callable[[], Any]) -> Loaded:
        with self._lock:
            loaded = self._loaded.get(key)
            if loaded is None:
                loaded = Loaded(create())
                self._loaded[key] = loaded
            return loaded
