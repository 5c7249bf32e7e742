"""Options shared by several commands."""

from __future__ import annotations

import json
import sys

import click

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a recipe value, e.g. --set train.lr=3e-4 (repeatable).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object to stdout.")
data_option = click.option(
    "--data",
    "data_dir",
    metavar="DATA",
    help="Posters: a folder with labels.csv (columns file, genres), a CSV manifest, or SOURCE:PATH "
    "[default: the recipe's `dataset`].",
)
cache_option = click.option(
    "--cache-dir",
    envvar="MMGENRE_CACHE",
    type=click.Path(file_okay=False),
    help="Feature cache folder [env MMGENRE_CACHE; default ~/.cache/mmgenre].",
)

limit_option = click.option("--limit", type=click.IntRange(min=1), help="Only the first N posters (quick trials).")
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace the run files of an existing run folder.")


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """A plain aligned text table on stdout."""
    if not rows:
        return
    columns = columns or list(rows[0])
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def open_data(data: str | None, recipe, registry):
    """The dataset of --data, or of the recipe's `dataset` section; neither is a usage error (exit 2)."""
    from mmgenre.data.sources import open_dataset

    if data is None and recipe.dataset is None:
        raise click.UsageError("Missing option '--data' (the recipe names no `dataset` either).")
    return open_dataset(data, recipe.labels, registry, recipe.dataset)
