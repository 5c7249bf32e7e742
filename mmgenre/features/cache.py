"""A content-addressed feature cache in one SQLite file.

Entries live in namespaces, one per component identity (kind, name, version, output-relevant params)
and output (`ocr`, `pooled`, `tokens`); keys are content hashes (of an image, or of a text). SQLite
in WAL mode makes every batch of writes atomic: a process killed at any moment leaves only whole
entries, and several processes can fill one cache at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mmgenre.components import Component
from mmgenre.errors import MmgenreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY, kind TEXT, name TEXT, output TEXT, identity TEXT, created REAL);
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT, key TEXT, meta TEXT, data BLOB, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
"""
SQL_VARIABLES = 500  # keys per SELECT ... IN (...)


def default_cache_dir() -> Path:
    env = os.environ.get("MMGENRE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmgenre"


def connect(path: Path, patience: float = 60.0) -> sqlite3.Connection:
    """Open the database in WAL mode with its tables. Switching to WAL and creating the tables answer
    "database is locked" at once, without waiting, while another process is doing the same: retry."""
    deadline = time.monotonic() + patience
    while True:
        db = sqlite3.connect(path, timeout=120, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            return db
        except sqlite3.OperationalError as error:
            db.close()
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass(frozen=True)
class NamespaceInfo:
    namespace: str
    kind: str
    name: str
    output: str
    identity: dict
    entries: int
    bytes: int


class FeatureCache:
    """Key -> (meta, bytes) entries grouped by component namespace."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.path = self.root / "features.sqlite"
            self._db = connect(self.path)
        except (OSError, sqlite3.Error) as error:
            raise MmgenreError(
                f"cannot open the feature cache in {self.root}: {error} "
                "(choose another with --cache-dir or MMGENRE_CACHE)"
            ) from None

    def namespace(self, component: Component, output: str) -> str:
        """The namespace of one output of a component, recorded for `cache info`."""
        name = f"{component.kind}/{component.name}/{component.fingerprint()}/{output}"
        self._db.execute(
            "INSERT OR IGNORE INTO namespaces VALUES (?, ?, ?, ?, ?, ?)",
            (name, component.kind, component.name, output, json.dumps(component.identity()), time.time()),
        )
        return name

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]:
        found = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), SQL_VARIABLES):
            chunk = keys[start : start + SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, meta, data FROM entries WHERE namespace = ? AND key IN ({marks})",
                (namespace, *chunk),
            )
            for key, meta, data in rows:
                found[key] = (json.loads(meta), data)
        return found

    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]:
        keys = list(dict.fromkeys(keys))
        present: set[str] = set()
        for start in range(0, len(keys), SQL_VARIABLES):
            chunk = keys[start : start + SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key FROM entries WHERE namespace = ? AND key IN ({marks})", (namespace, *chunk)
            )
            present.update(key for (key,) in rows)
        return [key for key in keys if key not in present]

    def put_many(self, namespace: str, items: Iterable[tuple[str, dict, bytes]]) -> None:
        """Write entries in one transaction: all of them land, or none."""
        rows = [(namespace, key, json.dumps(meta), data) for key, meta, data in items]
        if not rows:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def info(self) -> list[NamespaceInfo]:
        rows = self._db.execute(
            "SELECT n.namespace, n.kind, n.name, n.output, n.identity, COUNT(e.key), "
            "COALESCE(SUM(LENGTH(e.data) + LENGTH(e.meta)), 0) "
            "FROM namespaces n LEFT JOIN entries e ON e.namespace = n.namespace "
            "GROUP BY n.namespace ORDER BY n.kind, n.name"
        )
        return [
            NamespaceInfo(ns, kind, name, output, json.loads(identity), n, size)
            for ns, kind, name, output, identity, n, size in rows
        ]

    def clear(self, kind: str | None = None, name: str | None = None) -> int:
        """Delete the entries of matching namespaces (all by default); returns how many were deleted."""
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if name:
            where.append("name = ?")
            args.append(name)
        condition = " AND ".join(where) or "1"
        selected = f"SELECT namespace FROM namespaces WHERE {condition}"
        self._db.execute("BEGIN IMMEDIATE")
        try:
            deleted = self._db.execute(f"DELETE FROM entries WHERE namespace IN ({selected})", args).rowcount
            self._db.execute(f"DELETE FROM namespaces WHERE {condition}", args)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("VACUUM")
        return deleted

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("features.sqlite*") if p.is_file())

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batched(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
