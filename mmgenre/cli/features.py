"""`mmgenre features`: run OCR and the encoders over a dataset, filling the cache."""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from pathlib import Path
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
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where features are computed: this machine's cores and GPU, or a Ray cluster.",
)
@click.option(
    "--ray-address",
    metavar="ADDR",
    help="Ray cluster to join, HOST:PORT or ray://HOST:PORT; one that does not answer within "
    "MMGENRE_CONNECT_TIMEOUT seconds (10) is an error [default: RAY_ADDRESS, else a local Ray started for this run].",
)
@click.option(
    "--shards",
    type=click.Path(file_okay=False),
    help="Shard folder every Ray node can write (shared storage); finished work stays there and a rerun "
    "resumes from it [default: a temporary folder, local Ray only].",
)
@click.option("--ray-ocr-actors", type=click.IntRange(min=1), help="OCR actors [default: one per cluster CPU].")
@click.option("--ray-ocr-batch", type=click.IntRange(min=1), help="Posters per OCR call (and shard) [default: 8].")
@click.option(
    "--ray-image-actors", type=click.IntRange(min=1), help="Image-encoder actors [default: one per GPU, or per 8 CPUs]."
)
@json_option
def features(
    recipe: str | None,
    data_dir: str | None,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    limit: int | None,
    resize_to: int | None,
    executor: str,
    ray_address: str | None,
    shards: str | None,
    ray_ocr_actors: int | None,
    ray_ocr_batch: int | None,
    ray_image_actors: int | None,
    as_json: bool,
) -> None:
    """Compute (or reuse) the OCR text and embeddings RECIPE needs for every poster in --data."""
    from mmgenre.errors import MmgenreError
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.pipeline import extract_features
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry

    ray_options = {"ocr_actors": ray_ocr_actors, "ocr_batch": ray_ocr_batch, "image_actors": ray_image_actors}
    check_executor_options(executor, ray_address, shards, ray_options)
    if shards:
        from mmgenre.features.shards import KIND
        from mmgenre.files.writer import OutputFolder

        OutputFolder(shards, KIND, option="--shards").check()  # never read or write a folder not ours
    registry = Registry.from_entry_points()
    resolved = load_recipe(recipe, list(overrides), registry)
    dataset = open_data(data_dir, resolved, registry)
    posters = dataset.posters[:limit] if limit else dataset.posters
    rows = dataset.rows - (len(dataset.posters) - len(posters))  # the rows this run looked at
    started = time.perf_counter()
    with FeatureCache(cache_dir) as cache, ExitStack() as stack:
        runner, settings = open_executor(executor, resolved, ray_address, shards, ray_options, stack)
        if shards:
            resume_from_shards(Path(shards), cache)
        featureset = extract_features(
            resolved,
            [p.path for p in posters],
            cache,
            resize_to=resize_to,
            skips=dataset.skips,
            executor=runner,
            settings=settings,
        )
        seconds = time.perf_counter() - started
        summary: dict[str, Any] = {
            "executor": executor,
            "posters": len(posters),
            "with_features": len(featureset),
            "seconds": round(seconds, 2),
            "posters_per_second": round(len(posters) / seconds, 2) if seconds else None,
            "features": {name: list(array.shape) for name, array in featureset.arrays.items()},
            "computed": featureset.computed,
            "skipped": dataset.skips.counts(),
            "cache": str(cache.path),
            "shards": str(Path(shards).resolve()) if shards else None,
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


def check_executor_options(executor: str, address: str | None, shards: str | None, ray_options: dict) -> None:
    """Ray's options without `--executor ray` are usage errors (exit 2)."""
    given = [name for name, value in (("--ray-address", address), ("--shards", shards)) if value]
    given += [f"--ray-{name.replace('_', '-')}" for name, value in ray_options.items() if value]
    if executor != "ray" and given:
        raise click.UsageError(f"{', '.join(given)} only apply with --executor ray")


def open_executor(executor: str, recipe, address: str | None, shards: str | None, ray_options: dict, stack: ExitStack):
    """(executor, settings) for the run: None and the recipe's settings for the local executor; a Ray executor
    (closed with `stack`) and settings for the cluster's devices for Ray."""
    if executor == "local":
        return None, None
    from mmgenre.features.ray_executor import RayExecutor, RayOptions

    options = RayOptions(**{name: value for name, value in ray_options.items() if value is not None})
    runner = RayExecutor.for_features(recipe.spec.features, address, shards=shards, options=options)
    stack.enter_context(runner)
    return runner, runner.settings


def resume_from_shards(folder: Path, cache) -> None:
    """Put the finished shards of an earlier run into the cache before planning, so the plan skips them."""
    from mmgenre.features.shards import finished_shards, ingest

    if folder.is_dir() and finished_shards(folder):
        report = ingest(folder, cache)
        logging.getLogger("mmgenre").info(
            "resuming: %d entries from %d shards in %s were new to the cache", report.entries, report.shards, folder
        )


COMMANDS = [features]
