"""`mmgenre features`: run OCR and the encoders over a dataset, filling the cache."""

from __future__ import annotations

import time
from typing import Any

import click

from mmgenre.cli.options import cache_option, data_option, json_option, print_json, set_option


@click.command("features")
@click.argument("recipe", required=False)
@data_option
@set_option
@cache_option
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N posters of the dataset.")
@click.option("--resize-to", type=click.IntRange(min=16), help="Downscale posters to this width first.")
@json_option
def features(
    recipe: str | None,
    data_dir: str,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    limit: int | None,
    resize_to: int | None,
    as_json: bool,
) -> None:
    """Compute (or reuse) the OCR text and embeddings RECIPE needs for every poster in --data."""
    from mmgenre.data.dataset import load_dataset
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.pipeline import extract_features
    from mmgenre.recipe import load_recipe

    resolved = load_recipe(recipe, list(overrides))
    dataset = load_dataset(data_dir, resolved.labels)
    posters = dataset.posters[:limit] if limit else dataset.posters
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
        return
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
        click.echo(dataset.skips.summary(len(dataset.posters) + len(dataset.skips), "rows/posters"))


COMMANDS = [features]
