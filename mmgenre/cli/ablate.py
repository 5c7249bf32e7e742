"""`mmgenre ablate`: train recipe variations side by side and compare them."""

from __future__ import annotations

import click

from mmgenre.cli.options import (
    compute_features,
    data_option,
    executor_options,
    json_option,
    limit_option,
    open_data,
    open_executor,
    print_json,
    set_option,
    store_option,
)


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{text}'") from None


@click.command("ablate")
@click.argument("recipe", required=False)
@data_option
@click.option(
    "--vary",
    multiple=True,
    metavar="KEY.PATH=V1,V2",
    help="Values to try for a recipe key (repeatable; all combinations are trained).",
)
@click.option(
    "--variant",
    "variant_sets",
    multiple=True,
    metavar="K=V[;K=V...]",
    help="One variant made of several settings (repeatable; crossed with --vary).",
)
@click.option("--seeds", default="0", show_default=True, help="Training seeds, e.g. 0,1,2 (mean and std are shown).")
@set_option
@store_option
@executor_options
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the runs and the comparison.")
@limit_option
@json_option
def ablate_command(
    recipe: str | None,
    data_dir: str | None,
    vary: tuple[str, ...],
    variant_sets: tuple[str, ...],
    seeds: str,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    executor: str,
    executor_opts: tuple[str, ...],
    out: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Train every combination of --vary values on --data (features are computed once) and compare them."""
    from mmgenre.ablation import run_ablation
    from mmgenre.features.store_url import open_store
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry

    registry = Registry.from_entry_points()
    runner = open_executor(executor, executor_opts, registry)
    base = load_recipe(recipe, list(overrides), registry)
    dataset = open_data(data_dir, base, registry)
    with open_store(cache_dir, registry) as cache, runner:
        compute_features(runner, base, [p.path for p in dataset.posters[:limit]], cache)  # the base recipe's
        folder, comparison = run_ablation(
            recipe, dataset, cache, list(vary), parse_seeds(seeds), list(overrides), out, limit, list(variant_sets)
        )
    if as_json:
        print_json({"folder": str(folder), **comparison})
        return
    click.echo((folder / "ablation.md").read_text())
    click.echo(f"runs, ablation.json and ablation.md are in {folder}", err=True)


COMMANDS = [ablate_command]
