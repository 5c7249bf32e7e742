"""The embedded feature store: a content-addressed cache in one SQLite file.

Entries live in namespaces (see `namespaces.py`); keys are content hashes. SQLite in WAL mode makes every
batch of writes atomic: a process killed at any moment leaves only whole entries, and several processes can
fill one cache at once. One connection per cache object, guarded by a lock, so threads may share it. A cache
file that can't be written (read-only) is opened read-only: new entries are then kept in memory for the
life of the object.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from mmgenre.errors import MmgenreError
from mmgenre.features.namespaces import Namespace

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY, kind TEXT, name TEXT, output TEXT, identity TEXT, created REAL);
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT, key TEXT, meta TEXT, data BLOB, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
"""
SQL_VARIABLES = 500  # keys per SELECT ... IN (...)
CACHE_FILE = "features.sqlite"
T = TypeVar("T")
Entry = tuple[str, dict, bytes]  # key, meta, data


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


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; `immutable` when even the WAL side files can't be made next to it."""
    for options in ("mode=ro", "immutable=1"):
        db = sqlite3.connect(f"file:{path}?{options}", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("SELECT COUNT(*) FROM namespaces").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
    raise sqlite3.OperationalError("unable to open the database read-only")


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

    def __init__(self, root: str | Path | None = None, read_only: bool = False) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self.path = self.root / CACHE_FILE
        self._lock = threading.RLock()
        self._overlay: dict[str, dict[str, tuple[dict, bytes]]] = {}  # entries kept in memory when read-only
        self.read_only = read_only or (self.path.exists() and not os.access(self.path, os.W_OK))
        try:
            if self.read_only:
                self._db = connect_read_only(self.path)
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                self._db = connect(self.path)
        except (OSError, sqlite3.Error) as error:
            raise self._problem(error, "open") from None

    def _problem(self, error: Exception, doing: str) -> MmgenreError:
        text = str(error)
        if isinstance(error, sqlite3.DatabaseError) and any(
            word in text for word in ("malformed", "not a database", "corrupt", "disk image")
        ):
            return MmgenreError(
                f"the feature cache {self.path} is damaged ({text}): check it with `mmgenre cache check`, "
                "then start afresh with `mmgenre cache clear --yes` (cached features are recomputed as needed)"
            )
        if "readonly" in text or "read-only" in text:
            return MmgenreError(
                f"the feature cache {self.path} is read-only ({text}): make it writable, or choose another "
                "with --cache-dir or MMGENRE_CACHE"
            )
        return MmgenreError(
            f"cannot {doing} the feature cache in {self.root}: {text} "
            "(choose another with --cache-dir or MMGENRE_CACHE)"
        )

    def _run(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return work(self._db)
            except sqlite3.Error as error:
                raise self._problem(error, doing) from None

    def register(self, namespace: Namespace) -> str:
        """Record a namespace (for `cache info`); returns its name."""
        if self.read_only:
            return namespace.name
        row = (namespace.name, namespace.kind, namespace.component, namespace.output)
        self._run(
            "write",
            lambda db: db.execute(
                "INSERT OR IGNORE INTO namespaces VALUES (?, ?, ?, ?, ?, ?)",
                (*row, json.dumps(namespace.identity), time.time()),
            ),
        )
        return namespace.name

    def namespace(self, component, output: str) -> str:
        """The namespace of one output of a component, recorded."""
        return self.register(Namespace.of(component, output))

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, tuple[dict, bytes]]:
        keys = list(dict.fromkeys(keys))
        overlay = self._overlay.get(namespace, {})
        found = {key: overlay[key] for key in keys if key in overlay}

        def select(db: sqlite3.Connection) -> None:
            for chunk in batched([k for k in keys if k not in found], SQL_VARIABLES):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, meta, data FROM entries WHERE namespace = ? AND key IN ({marks})", (namespace, *chunk)
                )
                for key, meta, data in rows:
                    found[key] = (json.loads(meta), data)

        self._run("read", select)
        return found

    def missing(self, namespace: str, keys: Iterable[str]) -> list[str]:
        keys = list(dict.fromkeys(keys))
        present = set(self._overlay.get(namespace, {})) & set(keys)

        def select(db: sqlite3.Connection) -> None:
            for chunk in batched([k for k in keys if k not in present], SQL_VARIABLES):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key FROM entries WHERE namespace = ? AND key IN ({marks})", (namespace, *chunk)
                )
                present.update(key for (key,) in rows)

        self._run("read", select)
        return [key for key in keys if key not in present]

    def put_many(self, namespace: str, items: Iterable[Entry]) -> None:
        """Write entries in one transaction: all of them land, or none."""
        items = list(items)
        if self.read_only:
            self._overlay.setdefault(namespace, {}).update({key: (meta, data) for key, meta, data in items})
            return
        rows = [(namespace, key, json.dumps(meta), data) for key, meta, data in items]
        if rows:
            insert = "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)"
            self._run("write", lambda db: transaction(db, lambda: db.executemany(insert, rows)))

    def namespaces(self) -> list[Namespace]:
        query = "SELECT namespace, kind, name, output, identity FROM namespaces"
        rows = self._run("read", lambda db: db.execute(query).fetchall())
        return [
            Namespace(name, kind, component, output, json.loads(identity))
            for name, kind, component, output, identity in rows
        ]

    def entries(self, namespace: str, chunk: int = 1000) -> Iterator[list[tuple[str, dict, bytes]]]:
        """Every entry of a namespace, in chunks (for export)."""
        query = "SELECT key, meta, data FROM entries WHERE namespace = ? AND key > ? ORDER BY key LIMIT ?"
        after = ""
        while True:
            rows = self._run("read", partial(fetch_all, query=query, args=(namespace, after, chunk)))
            if not rows:
                return
            yield [(key, json.loads(meta), data) for key, meta, data in rows]
            after = rows[-1][0]

    def info(self) -> list[NamespaceInfo]:
        rows = self._run(
            "read",
            lambda db: db.execute(
                "SELECT n.namespace, n.kind, n.name, n.output, n.identity, COUNT(e.key), "
                "COALESCE(SUM(LENGTH(e.data) + LENGTH(e.meta)), 0) "
                "FROM namespaces n LEFT JOIN entries e ON e.namespace = n.namespace "
                "GROUP BY n.namespace ORDER BY n.kind, n.name"
            ).fetchall(),
        )
        return [
            NamespaceInfo(ns, kind, name, output, json.loads(identity), n, size)
            for ns, kind, name, output, identity, n, size in rows
        ]

    def check(self) -> str:
        """SQLite's quick_check: 'ok', or what is damaged."""
        rows = self._run("check", lambda db: db.execute("PRAGMA quick_check").fetchall())
        return "\n".join(str(row[0]) for row in rows)

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

        def delete(db: sqlite3.Connection) -> int:
            def both() -> int:
                deleted = db.execute(f"DELETE FROM entries WHERE namespace IN ({selected})", args).rowcount
                db.execute(f"DELETE FROM namespaces WHERE {condition}", args)
                return deleted

            deleted = transaction(db, both)
            db.execute("VACUUM")
            return deleted

        return self._run("clear", delete)

    @staticmethod
    def reset(root: str | Path | None = None) -> list[Path]:
        """Remove the cache file and its WAL side files (ours: nothing else in the folder is touched), for a cache
        too damaged to open; returns what was removed."""
        folder = Path(root) if root else default_cache_dir()
        removed = [folder / f"{CACHE_FILE}{suffix}" for suffix in ("", "-wal", "-shm")]
        removed = [path for path in removed if path.is_file()]
        for path in removed:
            path.unlink()
        return removed

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob(f"{CACHE_FILE}*") if p.is_file())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        db.execute("COMMIT")
        return result
    except BaseException:
        db.execute("ROLLBACK")
        raise


def fetch_all(db: sqlite3.Connection, query: str, args: tuple) -> list:
    return db.execute(query, args).fetchall()


def batched(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
