"""`mmgenre cache info|clear`."""

from __future__ import annotations

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
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="Only this kind of component.")
@click.option("--name", help="Only components with this name.")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def clear(cache_dir: str | None, kind: str | None, name: str | None, yes: bool) -> None:
    """Delete cached entries (all, or those of one component kind/name)."""
    from mmgenre.features.cache import FeatureCache

    what = " ".join(filter(None, [kind, name])) or "all"
    if not yes:
        click.confirm(f"Delete {what} cached features?", abort=True)
    with FeatureCache(cache_dir) as cache:
        deleted = cache.clear(kind, name)
        click.echo(f"deleted {deleted:,} entries ({what}); cache is now {cache.size_bytes() / 1e6:.1f} MB")


def _short(params: dict | None) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (params or {}).items())
    return text if len(text) <= 60 else text[:57] + "..."


COMMANDS = [cache_group]
