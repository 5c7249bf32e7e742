"""`mmgenre features`: run OCR and the encoders over a dataset, filling the cache."""

from __future__ import annotations

import time
from typing import Any

import click

from mmgenre.cli.options import cache_option, data_option, json_option, limit_option, open_data, print_json, set_option


@click.command("features")
@click.argument("recipe", required=False)
@data_option
@set_option
@cache_option
@limit_option
@click.option("--resize-to", type=click.IntRange(min=16), help="Downscale posters to this width first.")
@json_option
def features(
    recipe: str | None,
    data_dir: str | None,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    limit: int | None,
    resize_to: int | None,
    as_json: bool,
) -> None:
    """Compute (or reuse) the OCR text and embeddings RECIPE needs for every poster in --data."""
    from mmgenre.errors import MmgenreError
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.pipeline import extract_features
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry

    registry = Registry.from_entry_points()
    resolved = load_recipe(recipe, list(overrides), registry)
    dataset = open_data(data_dir, resolved, registry)
    posters = dataset.posters[:limit] if limit else dataset.posters
    rows = dataset.rows - (len(dataset.posters) - len(posters))  # the rows this run looked at
    started = time.perf_counter()
    with FeatureCache(cache_dir) as cache:
        featureset = extract_features(
            resolved, [p.path for p in posters], cache, resize_to=resize_to, skips=dataset.skips
        )
        seconds = time.perf_counter() - started
        summary: dict[str, Any] = {
            "posters": len(posters),
            "with_features": len(featureset),
            "seconds": round(seconds, 2),
            "posters_per_second": round(len(posters) / seconds, 2) if seconds else None,
            "features": {name: list(array.shape) for name, array in featureset.arrays.items()},
            "computed": featureset.computed,
            "skipped": dataset.skips.counts(),
            "cache": str(cache.path),
        }
    if as_json:
        print_json(summary)
    else:
        click.echo(
            f"{summary['with_features']:,} of {len(posters):,} posters have features "
            f"({seconds:.1f} s, {summary['posters_per_second']} posters/s); cache: {summary['cache']}"
        )
        for name, shape in summary["features"].items():
            click.echo(f"  {name}: {tuple(shape)}")
        click.echo(
            "computed now (the rest came from the cache): "
            + ", ".join(f"{stage} {n:,}" for stage, n in featureset.computed.items())
        )
    if dataset.skips:
        click.echo(dataset.skips.summary(rows, "rows"), err=True)
    if not len(featureset):
        raise MmgenreError(f"no poster of {dataset.location} got features ({dataset.skips.summary(rows, 'rows')})")


COMMANDS = [features]
