"""`mmgenre list` and `mmgenre plugins`: what the loaded plugins provide."""

from __future__ import annotations

import click

from mmgenre.cli.options import json_option, print_json, print_table
from mmgenre.components import KINDS, kind_choices
from mmgenre.registry import Registry

KIND_CHOICES = kind_choices()


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(sorted(KIND_CHOICES)))
@json_option
def list_components(kind: str | None, as_json: bool) -> None:
    """List registered components (all kinds, or one KIND), with their plugin and availability."""
    registry = Registry.from_entry_points()
    kinds = KIND_CHOICES[kind] if kind else list(KINDS)
    rows = []
    for k in kinds:
        for entry in registry.entries(k):
            reason = entry.component.unavailable_reason()
            rows.append(
                {
                    "kind": k,
                    "name": entry.component.name,
                    "plugin": entry.plugin,
                    "available": reason is None,
                    "reason": reason or "",
                    "summary": entry.component.summary(),
                }
            )
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["status"] = "ok" if row["available"] else f"unavailable: {row['reason']}"
    print_table(rows, ["kind", "name", "plugin", "status", "summary"])


@click.command("plugins")
@json_option
def list_plugins(as_json: bool) -> None:
    """List installed plugins: name, package, version, hooks, and whether each is loaded (with the reason when
    it is left out: it failed to import or in a hook, or a name it registers is taken)."""
    plugins = [vars(p) for p in Registry.from_entry_points().plugins]
    if as_json:
        print_json(plugins)
        return
    rows = [{**p, "hooks": ", ".join(p["hooks"]), "status": p["status"]} for p in plugins]
    print_table(rows, ["name", "package", "version", "status", "hooks"])
    left_out = [p for p in plugins if p["status"] != "ok"]
    if left_out:
        click.echo("\nLeft out (the other plugins work without them):")
        for plugin in left_out:
            click.echo(f"  {plugin['name']} ({plugin['package']} {plugin['version']}): {plugin['reason']}")


COMMANDS = [list_components, list_plugins]
