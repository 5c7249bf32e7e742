"""A feature store of Parquet shards on any fsspec URL: a local folder, `s3://bucket/prefix`, ...

The folder holds the same shards as `cache export` and the Ray executor's `--shards` (see `shards.py`):
each `put_many` is written as one new shard under a unique name (whole or not at all: a temporary name
renamed on local disks; one object PUT on object stores), so any number of processes and hosts may write
at once and a killed writer loses only the batch it was writing. Nothing is ever replaced or deleted. Every
shard is read through size and row checks: a damaged shard, or a damaged row, is left out with a warning
(its features are computed again). A folder that holds anything but ours is refused.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterable

from mmgenre.errors import ComponentUnavailableError, MmgenreError
from mmgenre.features.namespaces import Namespace
from mmgenre.features.shards import (
    MARKER,
    MAX_SHARD_BYTES,
    NAMESPACES_FILE,
    SHARD_COLUMNS,
    NamespaceRow,
    checked_row,
    shard_schema,
)
from mmgenre.features.store import Entry
from mmgenre.files.reader import MB, ReadError, open_regular, parse_json
from mmgenre.files.schema import validate

log = logging.getLogger("mmgenre")
MARKER_TEXT = json.dumps({"format": 1, "kind": "shards", "files": []})


def open_filesystem(url: str, storage_options: dict):
    """(fsspec filesystem, root path) of a URL; a protocol whose library is missing is one clear error."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as error:
        raise ComponentUnavailableError(
            f"cannot open {url}: {error} (for s3:// install mmgenre[s3], i.e. s3fs)"
        ) from None
    except (ValueError, OSError) as error:
        raise MmgenreError(f"cannot open the shard store {url}: {error}") from None


class ShardStore:
    """Entries in Parquet shards under one fsspec URL, indexed in memory (namespace -> key -> shard)."""

    def __init__(self, url: str, storage_options: dict | None = None, read_only: bool = False) -> None:
        self.url, self.read_only = url, read_only
        self.fs, self.root = open_filesystem(url, storage_options or {})
        self.local = "file" in self.fs.protocol if isinstance(self.fs.protocol, tuple) else self.fs.protocol == "file"
        self._lock = threading.RLock()
        self._index: dict[str, dict[str, str]] = {}
        self._seen: set[str] = set()  # shards indexed, or rejected
        self._namespaces: dict[str, Namespace] = {}
        self._overlay: dict[str, dict[str, tuple[dict, bytes]]] = {}  # read-only: new entries kept in memory
        self.rejected: list[tuple[str, str]] = []  # (shard, why) left out
        self._claim()
        self.refresh()

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def _claim(self) -> None:
        """Mark the folder as ours, unless it holds anything that is not (then nothing is written there)."""
        try:
            names = (
                [p.rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False)] if self.fs.exists(self.root) else []
            )
        except (OSError, ValueError) as error:
            raise MmgenreError(f"cannot list the shard store {self.url}: {error}") from None
        if MARKER in names:
            return
        if names:
            shown = ", ".join(sorted(names)[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            raise MmgenreError(
                f"--store {self.url} is not empty and was not written by mmgenre (it holds {shown}): choose a new "
                "or empty folder; mmgenre never overwrites or deletes what it did not create"
            )
        if self.read_only:
            return
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            self._write(MARKER, MARKER_TEXT.encode())
        except (OSError, ValueError) as error:
            raise MmgenreError(f"cannot write the shard store {self.url}: {error}") from None

    def _write(self, name: str, data: bytes) -> None:
        """A whole file or none: a renamed temporary file on local disks, one PUT on object stores."""
        path = self._path(name)
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        temporary = self._path(f".{name}.{uuid.uuid4().hex}.tmp")
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, path)

    def _read(self, path: str, limit: int) -> bytes:
        """The bytes of one file, refused past `limit` (and, on local disks, unless it is a regular file)."""
        if self.local:
            with open_regular(path, limit) as handle:
                return handle.read()
        size = self.fs.size(path)
        if size is not None and size > limit:
            raise ReadError(f"{path} is {size / MB:.1f} MB, more than the {limit / MB:.0f} MB such a file may be")
        return self.fs.cat_file(path)

    def refresh(self) -> None:
        """Index the shards written since the last look (by this or any other writer)."""
        pattern = self._path("*.parquet")
        self.fs.invalidate_cache(self.root)  # object stores' clients cache listings: other writers' shards are new
        found = sorted(p for p in self.fs.glob(pattern) if not p.rsplit("/", 1)[-1].startswith("."))
        for path in found:
            if path not in self._seen:
                self._index_shard(path)
        self._load_namespaces()

    def _index_shard(self, path: str) -> None:
        self._seen.add(path)
        try:
            for namespace, key, _meta, _data in self._rows(path):
                self._index.setdefault(namespace, {})[key] = path
        except Exception as error:  # a damaged shard must not stop the others: its features are computed again
            problem = f"{type(error).__name__}: {str(error)[:200]}"
            log.warning("shard %s can't be read (%s): left out, its features will be computed again", path, problem)
            self.rejected.append((path, problem))

    def _rows(self, path: str, namespace: str | None = None) -> list[tuple[str, str, dict, bytes]]:
        """The checked rows of one shard (of one namespace); rows that are not entries mmgenre writes are left out."""
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(self._read(path, MAX_SHARD_BYTES)))
        if set(table.schema.names) < set(SHARD_COLUMNS):
            raise ReadError(f"{path} is not a shard: it lacks the columns {', '.join(SHARD_COLUMNS)}")
        rows, rejected = [], 0
        for row in zip(*(table.column(name).to_pylist() for name in SHARD_COLUMNS)):
            if namespace is not None and row[0] != namespace:
                continue
            entry = checked_row(*row)
            if entry is None:
                rejected += 1
                continue
            rows.append((row[0], *entry))
        if rejected:
            log.warning("%s: %d rows are not feature entries (damaged or not finite): left out", path, rejected)
        return rows

    def _load_namespaces(self) -> None:
        path = self._path(NAMESPACES_FILE)
        try:
            if not self.fs.exists(path):
                return
            rows = parse_json(self._read(path, 16 * MB).decode(), path)
            if not isinstance(rows, list):
                raise ReadError(f"{path} must hold a list of namespaces")
            for n, row in enumerate(rows, 1):
                r = validate(NamespaceRow, row, f"{path} row {n}")
                self._namespaces.setdefault(r.namespace, Namespace(r.namespace, r.kind, r.name, r.output, r.identity))
        except (ReadError, OSError, UnicodeDecodeError) as error:
            log.warning("%s: its namespaces are not registered", error)

    def register(self, namespace: Namespace) -> str:
        with self._lock:
            if namespace.name in self._namespaces or self.read_only:
                return namespace.name
            self._load_namespaces()  # another writer's, just before ours are added
            self._namespaces[namespace.name] = namespace
            rows = [
                {"namespace": s.name, "kind": s.kind, "name": s.component, "output": s.output, "identity": s.identity}
                for s in self._namespaces.values()
            ]
            self._write(NAMESPACES_FILE, json.dumps(rows, indent=1, sort_keys=True).encode())
        return namespace.name

    def namespaces(self) -> list[Namespace]:
        return list(self._namespaces.values())

    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]:
        with self._lock:
            keys = list(dict.fromkeys(keys))
            held, overlay = self._index.get(namespace, {}), self._overlay.get(namespace, {})
            if any(key not in held and key not in overlay for key in keys):
                self.refresh()  # others may have written them meanwhile
                held = self._index.get(namespace, {})
            return [key for key in keys if key not in held and key not in overlay]

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]:
        with self._lock:
            keys = list(dict.fromkeys(keys))
            overlay = self._overlay.get(namespace, {})
            found = {key: overlay[key] for key in keys if key in overlay}
            by_shard: dict[str, set[str]] = {}
            held = self._index.get(namespace, {})
            for key in keys:
                if key not in found and key in held:
                    by_shard.setdefault(held[key], set()).add(key)
            for path, wanted in by_shard.items():
                for _, key, meta, data in self._rows(path, namespace):
                    if key in wanted:
                        found[key] = (meta, data)
            return found

    def put_many(self, namespace: str, items: Iterable[Entry]) -> None:
        """Write the entries as one new shard: all of them land, or none."""
        items = list(items)
        if not items:
            return
        with self._lock:
            if self.read_only:
                self._overlay.setdefault(namespace, {}).update({key: (meta, data) for key, meta, data in items})
                return
            name = f"store-{uuid.uuid4().hex}.parquet"
            try:
                self._write(name, shard_bytes(namespace, items))
            except (OSError, ValueError) as error:
                raise MmgenreError(f"cannot write a shard to {self.url}: {error}") from None
            path = self._path(name)
            self._seen.add(path)
            for key, _meta, _data in items:
                self._index.setdefault(namespace, {})[key] = path

    def entry_count(self) -> int:
        return sum(len(keys) for keys in self._index.values())

    def close(self) -> None:
        """Nothing is buffered: every `put_many` is written when it returns."""


def shard_bytes(namespace: str, items: list[Entry]) -> bytes:
    """One shard (Parquet, zstd) of one namespace's entries."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays(
        [
            pa.array([namespace] * len(items), pa.string()),
            pa.array([key for key, _, _ in items], pa.string()),
            pa.array([json.dumps(meta) for _, meta, _ in items], pa.string()),
            pa.array([data for _, _, data in items], pa.binary()),
        ],
        schema=shard_schema(),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()
