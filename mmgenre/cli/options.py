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

STORE_HELP = (
    "Feature store: a folder or sqlite:PATH (the SQLite cache), parquet+file:///PATH or s3://BUCKET/PREFIX "
    "(Parquet shards; add ?endpoint_url=http://HOST:PORT for an S3-compatible service). --cache-dir DIR is the same."
)
store_option = click.option(
    "--store",
    "--cache-dir",
    "cache_dir",
    envvar="MMGENRE_STORE",
    metavar="URL",
    help=STORE_HELP + " [env MMGENRE_STORE; default: the SQLite cache in MMGENRE_CACHE or ~/.cache/mmgenre].",
)
read_store_option = click.option(
    "--store",
    "--cache-dir",
    "cache_dir",
    metavar="URL",
    help=STORE_HELP + " Opened read-only; new features are kept in memory [default: no store].",
)
executor_option = click.option(
    "--executor",
    default="local",
    show_default=True,
    metavar="NAME",
    help="Where features are computed: a registered executor (`mmgenre list executors`): local, ray, dask, ...",
)
executor_opt_option = click.option(
    "--executor-opt",
    "executor_opts",
    multiple=True,
    metavar="KEY=VALUE",
    help="A param of the executor (repeatable), e.g. --executor dask --executor-opt address=tcp://HOST:8786.",
)


def executor_options(command):
    """`--executor NAME` and `--executor-opt KEY=VALUE`, in that order."""
    return executor_option(executor_opt_option(command))


def open_executor(name: str, opts: tuple[str, ...] | list[str], registry):
    """The executor component NAME with params from KEY=VALUE pairs (strings that the params' types convert:
    `workers=2`, `processes=true`; an empty value is None); an unknown name or param is one error naming what
    exists."""
    params: dict[str, str | None] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got '{opt}'", param_hint="--executor-opt")
        params[key.strip()] = value or None
    registry.get("executor", name, "--executor")  # an unknown name says what is close and what exists
    return registry.create("executor", name, params, key="--executor-opt", source=f"--executor {name}")


def cluster_executor(executor):
    """The executor to hand to a predictor: None for the local one (the predictor makes its own, with its device)."""
    return None if executor.name == "local" else executor


def compute_features(executor, recipe, paths: list, store) -> None:
    """Fill `store` with the features RECIPE needs for `paths` on EXECUTOR, so that a command's later steps
    find them there; the local executor computes them as the command goes, so nothing is done for it here."""
    if executor.name == "local":
        return
    from mmgenre.data.skips import SkipLog
    from mmgenre.features.pipeline import extract_features

    settings = executor.settings(recipe.spec.features)
    extract_features(recipe, paths, store, skips=SkipLog(), executor=executor, settings=settings)  # skips: logged later


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
