"""Parquet shards: feature entries that many hosts can write into one folder, ingested later into a store.

A shard is one Parquet file of rows (namespace, key, meta JSON, data bytes), the same rows as the SQLite
cache's `entries` table. Each is written under a hidden temporary name and renamed when whole, so every
`*.parquet` file in the folder is finished (a killed writer leaves at most a `.*.tmp` file, which is ignored).
`namespaces.json` beside them records what each namespace is, for `cache info`. Folders are local or
shared-filesystem paths (NFS, a mounted bucket); fsspec URLs such as `s3://` are not supported.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmgenre.features.namespaces import Namespace
from mmgenre.features.store import Entry, FeatureStore

log = logging.getLogger("mmgenre")
MARKER = ".mmgenre-shards"  # a folder of ours: shards may be added to it, and an export may refresh it
NAMESPACES_FILE = "namespaces.json"
EXPORT_PREFIX = "export"
SHARD_BYTES = 64 * 2**20  # an export starts a new shard past this much data


def shard_schema():
    import pyarrow as pa

    return pa.schema([("namespace", pa.string()), ("key", pa.string()), ("meta", pa.string()), ("data", pa.binary())])


def write_shard(folder: str | Path, entries: dict[str, list[Entry]], prefix: str = "shard") -> Path | None:
    """Write entries (by namespace) as one new shard, whole or not at all; returns its path (None: no entries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [(ns, key, json.dumps(meta), data) for ns, items in entries.items() for key, meta, data in items]
    if not rows:
        return None
    columns = list(zip(*rows))
    table = pa.Table.from_arrays(
        [pa.array(c) for c in columns[:3]] + [pa.array(columns[3], pa.binary())], schema=shard_schema()
    )
    folder = Path(folder)
    path = folder / f"{prefix}-{uuid.uuid4().hex}.parquet"
    temporary = folder / f".{path.name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, path)
    return path


def finished_shards(folder: str | Path) -> list[Path]:
    """The whole shards of a folder, by name (temporary files of writers still at work are left out)."""
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith("."))


def write_namespaces(folder: str | Path, spaces: Iterable[Namespace]) -> None:
    """Add namespaces to the folder's namespaces file (rewritten whole, under a temporary name first)."""
    folder = Path(folder)
    known = {space.name: space for space in read_namespaces(folder)}
    known.update({space.name: space for space in spaces})
    rows = [
        {"namespace": s.name, "kind": s.kind, "name": s.component, "output": s.output, "identity": s.identity}
        for s in known.values()
    ]
    temporary = folder / f".{NAMESPACES_FILE}.{uuid.uuid4().hex}.tmp"
    temporary.write_text(json.dumps(rows, indent=1, sort_keys=True))
    os.replace(temporary, folder / NAMESPACES_FILE)


def read_namespaces(folder: str | Path) -> list[Namespace]:
    path = Path(folder) / NAMESPACES_FILE
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text())
        return [Namespace(r["namespace"], r["kind"], r["name"], r["output"], r["identity"]) for r in rows]
    except (ValueError, KeyError, TypeError) as error:
        log.warning("%s can't be read (%s): its namespaces are not registered", path, error)
        return []


@dataclass
class IngestReport:
    """What an ingest did: shards read, entries added to the store, shards that could not be read."""

    shards: int = 0
    entries: int = 0
    bad: list[tuple[Path, str]] = field(default_factory=list)


def ingest(folder: str | Path, store: FeatureStore, skip: Iterable[Path] = ()) -> IngestReport:
    """Put the entries of every finished shard in `folder` that the store lacks into it. A shard that can't be
    read is skipped with a warning naming it (the others still count); running it again adds nothing new."""
    report = IngestReport()
    for space in read_namespaces(folder):
        store.register(space)
    done = {Path(p) for p in skip}
    for path in finished_shards(folder):
        if path in done:
            continue
        try:
            report.entries += ingest_shard(path, store)
            report.shards += 1
        except Exception as error:  # a damaged shard must not stop the others: its posters are recomputed
            problem = f"{type(error).__name__}: {error}"
            log.warning("shard %s can't be read (%s): skipped, its features will be computed again", path, problem)
            report.bad.append((path, problem))
    return report


def ingest_shard(path: str | Path, store: FeatureStore) -> int:
    """Put the entries of one shard that the store lacks into it; returns how many were added."""
    import pyarrow.parquet as pq

    shard = pq.ParquetFile(path)
    added = 0
    for batch in shard.iter_batches(batch_size=2000, columns=["namespace", "key", "meta", "data"]):
        columns = batch.to_pydict()
        by_namespace: dict[str, list[int]] = {}
        for i, namespace in enumerate(columns["namespace"]):
            by_namespace.setdefault(namespace, []).append(i)
        for namespace, rows in by_namespace.items():
            missing = set(store.missing(namespace, [columns["key"][i] for i in rows]))
            entries = [(columns["key"][i], json.loads(columns["meta"][i]), columns["data"][i]) for i in rows]
            entries = list({key: (key, meta, data) for key, meta, data in entries if key in missing}.values())
            store.put_many(namespace, entries)
            added += len(entries)
    return added


@dataclass
class ExportReport:
    shards: int = 0
    entries: int = 0
    namespaces: int = 0


def export_cache(cache, folder: Path) -> ExportReport:
    """Write every entry of a FeatureCache as shards into `folder` (new, empty, or an earlier export, whose
    shards are replaced); `ingest` (or `mmgenre cache import`) puts them into another cache."""
    from mmgenre.output_folders import claim_output_folder

    claim_output_folder(folder, MARKER, option="DIR")
    for old in folder.glob(f"{EXPORT_PREFIX}-*.parquet"):
        old.unlink()  # our own shards from an earlier export of this folder
    spaces = cache.namespaces()
    write_namespaces(folder, spaces)
    report = ExportReport(namespaces=len(spaces))
    for space in spaces:
        for chunk in sized_chunks(cache.entries(space.name)):
            write_shard(folder, {space.name: chunk}, prefix=EXPORT_PREFIX)
            report.shards += 1
            report.entries += len(chunk)
    return report


def sized_chunks(chunks: Iterable[list[Entry]], limit: int = SHARD_BYTES) -> Iterator[list[Entry]]:
    """Regroup entry chunks into lists of about `limit` bytes of data."""
    pending: list[Entry] = []
    size = 0
    for chunk in chunks:
        for entry in chunk:
            pending.append(entry)
            size += len(entry[2]) + 200
            if size >= limit:
                yield pending
                pending, size = [], 0
    if pending:
        yield pending
