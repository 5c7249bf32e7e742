"""`mmgenre cache info|clear|check|export|import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mmgenre.cli.options import cache_option, json_option, print_json, print_table
from mmgenre.components import KINDS


@click.group("cache")
def cache_group() -> None:
    """Show or free the feature cache."""


@cache_group.command("info")
@cache_option
@json_option
def info(cache_dir: str | None, as_json: bool) -> None:
    """Entries and size per component namespace."""
    from mmgenre.features.cache import FeatureCache

    with FeatureCache(cache_dir) as cache:
        rows: list[dict[str, Any]] = [
            {
                "kind": n.kind,
                "name": n.name,
                "output": n.output,
                "entries": n.entries,
                "mb": round(n.bytes / 1e6, 2),
                "params": n.identity.get("params"),
                "namespace": n.namespace,
            }
            for n in cache.info()
        ]
        total = cache.size_bytes()
        path = cache.path
    if as_json:
        print_json({"path": str(path), "bytes": total, "namespaces": rows})
        return
    click.echo(f"{path}: {total / 1e6:.1f} MB")
    print_table(
        [{**r, "params": _short(r["params"])} for r in rows], ["kind", "name", "output", "entries", "mb", "params"]
    )


@cache_group.command("clear")
@cache_option
@click.option(
    "--kind",
    type=click.Choice(sorted(key for key, kind in KINDS.items() if kind.in_recipe)),
    help="Only this kind of component.",
)
@click.option("--name", help="Only components with this name.")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def clear(cache_dir: str | None, kind: str | None, name: str | None, yes: bool) -> None:
    """Delete cached entries (all, or those of one component kind/name); a damaged cache file is removed."""
    from mmgenre.errors import MmgenreError
    from mmgenre.features.cache import FeatureCache

    what = " ".join(filter(None, [kind, name])) or "all"
    if not yes:
        click.confirm(f"Delete {what} cached features?", abort=True)
    try:
        with FeatureCache(cache_dir) as cache:
            deleted = cache.clear(kind, name)
            size = cache.size_bytes()
    except MmgenreError as error:
        if "damaged" not in str(error) or kind or name:
            raise
        removed = FeatureCache.reset(cache_dir)  # too damaged to clear entry by entry: start an empty cache
        click.echo(f"the cache was damaged: removed {', '.join(p.name for p in removed)}; it starts empty")
        return
    click.echo(f"deleted {deleted:,} entries ({what}); cache is now {size / 1e6:.1f} MB")


@cache_group.command("check")
@cache_option
def check(cache_dir: str | None) -> None:
    """Check the cache file for damage (SQLite's quick_check); exit 1 when it is damaged."""
    import re

    from mmgenre.errors import MmgenreError
    from mmgenre.features.cache import CACHE_FILE, FeatureCache, default_cache_dir

    path = Path(cache_dir or default_cache_dir()) / CACHE_FILE
    try:
        with FeatureCache(cache_dir) as cache:
            result = cache.check()
    except MmgenreError as error:  # damaged beyond what quick_check can report
        if " is damaged " not in str(error):
            raise
        found = re.search(r"is damaged \((.*?)\)", str(error))
        result = found.group(1) if found else str(error)
    if result != "ok":
        raise MmgenreError(
            f"the feature cache {path} is damaged: {result}\nStart afresh with `mmgenre cache clear --yes` (or, if "
            f"that fails too, delete {path} and its -wal/-shm files): cached features are recomputed as needed, "
            "and an export can be put back with `mmgenre cache import DIR`"
        )
    click.echo(f"{path}: ok")


@cache_group.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@cache_option
@json_option
def export(folder: Path, cache_dir: str | None, as_json: bool) -> None:
    """Write every cached entry as Parquet shards into FOLDER (new, empty, or an earlier export)."""
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.shards import export_cache

    with FeatureCache(cache_dir) as cache:
        report = export_cache(cache, folder)
    summary = {
        "folder": str(folder),
        "shards": report.shards,
        "entries": report.entries,
        "namespaces": report.namespaces,
        "already_there": report.already,
    }
    if as_json:
        print_json(summary)
    else:
        what = f"{report.entries:,} entries of {report.namespaces} namespaces"
        already = f" ({report.already:,} were there already)" if report.already else ""
        click.echo(f"exported {what} as {report.shards} shards to {folder}{already}")


@cache_group.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@cache_option
@json_option
def import_(folder: Path, cache_dir: str | None, as_json: bool) -> None:
    """Add the entries of a shard folder (an export, or a Ray run's --shards) that the cache lacks."""
    from mmgenre.errors import MmgenreError
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.shards import NAMESPACES_FILE, finished_shards, ingest

    if not finished_shards(folder) and not (folder / NAMESPACES_FILE).is_file():
        raise MmgenreError(f"{folder} holds no shards (*.parquet) to import")
    with FeatureCache(cache_dir) as cache:
        report = ingest(folder, cache)
        path = cache.path
    summary = {
        "folder": str(folder),
        "cache": str(path),
        "shards": report.shards,
        "new_entries": report.entries,
        "unreadable_shards": [str(p) for p, _ in report.bad],
    }
    if as_json:
        print_json(summary)
    else:
        click.echo(f"imported {report.entries:,} new entries from {report.shards} shards into {path}")
    if report.bad:
        where, problem = report.bad[0]
        raise MmgenreError(
            f"{len(report.bad)} of {len(report.bad) + report.shards} shards in {folder} could not be read and were "
            f"left as they are (first: {where.name}: {problem}); the others were imported"
        )


def _short(params: dict | None) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (params or {}).items())
    return text if len(text) <= 60 else text[:57] + "..."


COMMANDS = [cache_group]
