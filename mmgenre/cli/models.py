"""`mmgenre models`: the trained models installed with mmgenre and its plugins, usable by name."""

from __future__ import annotations

import click

from mmgenre.cli.options import json_option, print_json, print_table


@click.command("models")
@click.argument("name", required=False)
@json_option
def models_command(name: str | None, as_json: bool) -> None:
    """List the installed models (usable wherever a run folder is), or show NAME's model card."""
    from mmgenre.registry import Registry
    from mmgenre.training.installed_models import describe_installed, find_model

    registry = Registry.from_entry_points()
    if name is not None:
        model = find_model(name, registry)
        card = registry.get("model", name).card() if model.packaged else ""  # type: ignore[attr-defined]
        if as_json:
            print_json({**describe_installed(model), "card": card})
        else:
            click.echo(card or f"{name}: no model card")
        return
    rows = [describe_installed(find_model(n, registry)) for n in registry.names("model")]
    if as_json:
        print_json(rows)
        return
    table = [
        {**row, "genres": len(row["genres"]), "test_macro_f1": f"{row['test_macro_f1']:.3f}", "size": mb(row["bytes"])}
        for row in rows
    ]
    print_table(table, ["name", "recipe", "genres", "test_macro_f1", "size", "source"])


def mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


COMMANDS = [models_command]
