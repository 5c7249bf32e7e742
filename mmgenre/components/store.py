"""The feature store interface: where computed features live (the SQLite cache, Parquet shards on any
fsspec URL, ...), chosen per command with `--store URL` and opened by `mmgenre.features.store_url.open_store`.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from mmgenre.components.base import Component

Entry = tuple[str, dict, bytes]  # key, meta, data
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(?!\\)")  # a Windows drive letter (C:\) is not a scheme


def url_scheme(url: str) -> str:
    """The scheme of a store URL; "" for a plain path. One letter is a drive, not a scheme."""
    match = SCHEME.match(url)
    return match.group(1) if match and len(match.group(1)) > 1 else ""


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """(the URL without its query string, the query's params); plain paths keep any `?` they hold."""
    if not url_scheme(url) or "?" not in url:
        return url, {}
    location, _, query = url.partition("?")
    return location, dict(parse_qsl(query, keep_blank_values=True))


class Store(Component):
    """Key -> (meta, bytes) entries grouped by namespace; a batch of `put_many` lands whole or not at all."""

    # URL schemes this store opens, e.g. ("s3", "parquet+file"); "" is a plain path
    schemes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def url_params(cls, url: str) -> dict:
        """The params that open `url` (its query string adds params: `s3://b/p?endpoint_url=...`)."""
        location, query = split_url(url)
        return {"url": location, **query}

    @property
    def location(self) -> str:
        """Where the entries are, for messages and summaries."""
        return str(getattr(self.params, "url", "") or self.name)

    @abstractmethod
    def register(self, namespace: Any) -> str:
        """Record a namespace (a `mmgenre.features.namespaces.Namespace`: what made its entries); returns its name."""

    @abstractmethod
    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]:
        """The keys the store lacks, in order, each once."""

    @abstractmethod
    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]:
        """The entries the store has among `keys`."""

    @abstractmethod
    def put_many(self, namespace: str, items: Iterable[Entry]) -> None:
        """Write entries: all of them land, or none."""

    def close(self) -> None:  # noqa: B027 (stores without resources need no close)
        """Finish writing and free connections."""

    def __getstate__(self) -> dict:
        """Only the params travel to another process (open files or connections do not); it opens its own there."""
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"])  # type: ignore[misc]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
