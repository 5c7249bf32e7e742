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

from pydantic import Field

from mmgenre.errors import MmgenreError
from mmgenre.features.codec import array_problem, text_problem
from mmgenre.features.namespaces import Namespace
from mmgenre.features.store import Entry, FeatureStore
from mmgenre.files.reader import MB, ReadError, open_regular, parse_json, read_json
from mmgenre.files.schema import FileSchema, validate
from mmgenre.files.writer import OutputFolder

log = logging.getLogger("mmgenre")
KIND = "shards"  # the marker .mmgenre-shards: a folder of ours, that shards may be added to
MARKER = f".mmgenre-{KIND}"
NAMESPACES_FILE = "namespaces.json"
EXPORT_PREFIX = "export"
SHARD_BYTES = 64 * 2**20  # an export starts a new shard past this much data
SHARD_COLUMNS = ("namespace", "key", "meta", "data")
MAX_SHARD_BYTES = 16 * 2**30  # a shard another machine wrote: a few hundred MB in practice
MAX_META_CHARS = 4 * 2**20  # an OCR result with every word and box


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
    """The whole shards of a folder, by name (temporary files of writers still at work are left out). What is
    not a regular file (a FIFO named like a shard) is refused when it is opened, without blocking."""
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


class NamespaceRow(FileSchema):
    namespace: str = Field(min_length=1, max_length=500)
    kind: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    output: str = Field(min_length=1, max_length=100)
    identity: dict


def read_namespaces(folder: str | Path) -> list[Namespace]:
    """The namespaces file of a shard folder, checked row by row (a damaged one registers nothing)."""
    path = Path(folder) / NAMESPACES_FILE
    if not os.path.lexists(path):
        return []
    try:
        rows = read_json(path, limit=16 * MB)
        if not isinstance(rows, list):
            raise ReadError(f"{path} must hold a list of namespaces")
        checked = [validate(NamespaceRow, row, f"{path} row {n}") for n, row in enumerate(rows, 1)]
    except ReadError as error:
        log.warning("%s: its namespaces are not registered", error)
        return []
    return [Namespace(r.namespace, r.kind, r.name, r.output, r.identity) for r in checked]


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
    """Put the entries of one shard that the store lacks into it; returns how many were added. The file is
    opened as a regular file of a shard's size; a row that is not an entry mmgenre writes is left out."""
    import pyarrow.parquet as pq

    added, rejected = 0, 0
    with open_regular(path, MAX_SHARD_BYTES) as handle:
        shard = pq.ParquetFile(handle)
        if set(shard.schema_arrow.names) < set(SHARD_COLUMNS):
            raise ReadError(f"{path} is not a shard: it lacks the columns {', '.join(SHARD_COLUMNS)}")
        for batch in shard.iter_batches(batch_size=2000, columns=list(SHARD_COLUMNS)):
            by_namespace: dict[str, dict[str, Entry]] = {}
            for row in zip(*(batch.column(name).to_pylist() for name in SHARD_COLUMNS)):
                entry = checked_row(*row)
                if entry is None:
                    rejected += 1
                    continue
                by_namespace.setdefault(row[0], {})[entry[0]] = entry
            for namespace, entries in by_namespace.items():
                missing = set(store.missing(namespace, list(entries)))
                store.put_many(namespace, [entry for key, entry in entries.items() if key in missing])
                added += len(missing)
    if rejected:
        log.warning("%s: %d rows are not feature entries (damaged or not finite): left out", path, rejected)
    return added


def checked_row(namespace: object, key: object, meta_text: object, data: object) -> Entry | None:
    """One shard row as a store entry, or None when it is not one mmgenre writes."""
    if not (isinstance(namespace, str) and namespace and isinstance(key, str) and 0 < len(key) <= 200):
        return None
    if not (isinstance(meta_text, str) and len(meta_text) <= MAX_META_CHARS and isinstance(data, bytes)):
        return None
    try:
        meta = parse_json(meta_text, "meta")
    except ReadError:
        return None
    problem = array_problem(meta, data) if isinstance(meta, dict) and "dtype" in meta else text_problem(meta)
    return None if problem else (key, meta, data)


@dataclass
class ExportReport:
    shards: int = 0
    entries: int = 0
    namespaces: int = 0
    already: int = 0  # entries the folder held before


def export_cache(cache, folder: Path) -> ExportReport:
    """Add every entry of a FeatureCache that `folder` does not hold yet as new shards (the folder is new,
    empty, or an earlier export: nothing in it is ever replaced or deleted, shards copied in from elsewhere
    included); `ingest` (or `mmgenre cache import`) puts them into another cache."""
    output = OutputFolder(folder, KIND, option="DIR")
    output.check()
    if not any(space.entries for space in cache.info()):
        raise MmgenreError(f"the feature cache {cache.path} is empty: there is nothing to export")
    output.claim()
    present = keys_in(folder)
    spaces = cache.namespaces()
    write_namespaces(folder, spaces)
    report = ExportReport(namespaces=len(spaces))
    for space in spaces:
        held = present.get(space.name, set())
        new = ([entry for entry in chunk if entry[0] not in held] for chunk in cache.entries(space.name))
        for chunk in sized_chunks(new):
            write_shard(folder, {space.name: chunk}, prefix=EXPORT_PREFIX)
            report.shards += 1
            report.entries += len(chunk)
        report.already += len(held)
    return report


def keys_in(folder: Path) -> dict[str, set[str]]:
    """The keys each namespace has in the readable shards of a folder (a damaged shard adds none)."""
    import pyarrow.parquet as pq

    keys: dict[str, set[str]] = {}
    for path in finished_shards(folder):
        try:
            with open_regular(path, MAX_SHARD_BYTES) as handle:
                table = pq.read_table(handle, columns=["namespace", "key"])
        except Exception as error:  # noqa: BLE001 - a damaged shard: its entries are written again
            log.warning("%s can't be read (%s): its entries are exported again", path, str(error)[:200])
            continue
        for namespace, key in zip(table.column("namespace").to_pylist(), table.column("key").to_pylist()):
            keys.setdefault(namespace, set()).add(key)
    return keys


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
