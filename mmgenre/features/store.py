"""What a feature store offers: the embedded SQLite cache and the in-memory store both provide it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mmgenre.features.namespaces import Namespace

Entry = tuple[str, dict, bytes]  # key, meta, data


class FeatureStore(Protocol):
    def register(self, namespace: Namespace) -> str: ...

    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]: ...

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]: ...

    def put_many(self, namespace: str, items: Iterable[Entry]) -> None: ...


class MemoryStore:
    """Entries in a dict, in front of an optional store that is only read (a server's cache, opened read-only).

    Made for one batch of work and then dropped, so memory does not grow with the requests a server answers.
    """

    def __init__(self, behind: FeatureStore | None = None) -> None:
        self.behind = behind
        self.entries: dict[str, dict[str, tuple[dict, bytes]]] = {}

    def register(self, namespace: Namespace) -> str:
        return namespace.name

    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]:
        keys = [key for key in dict.fromkeys(keys) if key not in self.entries.get(namespace, {})]
        return self.behind.missing(namespace, keys) if self.behind is not None and keys else keys

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]:
        keys = list(dict.fromkeys(keys))
        mine = self.entries.get(namespace, {})
        found = {key: mine[key] for key in keys if key in mine}
        rest = [key for key in keys if key not in found]
        if self.behind is not None and rest:
            found.update(self.behind.get_many(namespace, rest))
        return found

    def put_many(self, namespace: str, items: Iterable[Entry]) -> None:
        self.entries.setdefault(namespace, {}).update({key: (meta, data) for key, meta, data in items})
