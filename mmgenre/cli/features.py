"""`mmgenre features`: run OCR and the encoders over a dataset, filling the cache."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import click

from mmgenre.cli.options import (
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


@click.command("features")
@click.argument("recipe", required=False)
@data_option
@set_option
@store_option
@limit_option
@click.option("--resize-to", type=click.IntRange(min=16), help="Downscale posters to this width first.")
@executor_options
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
    executor_opts: tuple[str, ...],
    ray_address: str | None,
    shards: str | None,
    ray_ocr_actors: int | None,
    ray_ocr_batch: int | None,
    ray_image_actors: int | None,
    as_json: bool,
) -> None:
    """Compute (or reuse) the OCR text and embeddings RECIPE needs for every poster in --data."""
    from mmgenre.errors import MmgenreError
    from mmgenre.features.pipeline import extract_features
    from mmgenre.features.store_url import open_store
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry

    ray_options = {"ocr_actors": ray_ocr_actors, "ocr_batch": ray_ocr_batch, "image_actors": ray_image_actors}
    opts = ray_executor_opts(executor, ray_address, shards, ray_options) + list(executor_opts)
    if shards:
        from mmgenre.features.shards import KIND
        from mmgenre.files.writer import OutputFolder

        OutputFolder(shards, KIND, option="--shards").check()  # never read or write a folder not ours
    registry = Registry.from_entry_points()
    runner = open_executor(executor, opts, registry)  # before any work: an unknown name or param is said at once
    resolved = load_recipe(recipe, list(overrides), registry)
    dataset = open_data(data_dir, resolved, registry)
    posters = dataset.posters[:limit] if limit else dataset.posters
    rows = dataset.rows - (len(dataset.posters) - len(posters))  # the rows this run looked at
    started = time.perf_counter()
    with open_store(cache_dir, registry) as store, runner:
        settings = runner.settings(resolved.spec.features)
        if shards:
            resume_from_shards(Path(shards), store)
        featureset = extract_features(
            resolved,
            [p.path for p in posters],
            store,
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
            "store": store.location,
            "cache": store.location,
            "shards": str(Path(shards).resolve()) if shards else None,
        }
    if as_json:
        print_json(summary)
    else:
        click.echo(
            f"{summary['with_features']:,} of {len(posters):,} posters have features "
            f"({seconds:.1f} s, {summary['posters_per_second']} posters/s); store: {summary['store']}"
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


def ray_executor_opts(executor: str, address: str | None, shards: str | None, ray_options: dict) -> list[str]:
    """Ray's own options as --executor-opt pairs; without `--executor ray` they are usage errors (exit 2)."""
    given = {"--ray-address": ("address", address), "--shards": ("shards", shards)}
    given.update({f"--ray-{name.replace('_', '-')}": (name, value) for name, value in ray_options.items()})
    given = {option: pair for option, pair in given.items() if pair[1]}
    if executor != "ray" and given:
        raise click.UsageError(f"{', '.join(given)} only apply with --executor ray")
    return [f"{name}={value}" for name, value in given.values()]


def resume_from_shards(folder: Path, cache) -> None:
    """Put the finished shards of an earlier run into the cache before planning, so the plan skips them."""
    from mmgenre.features.shards import finished_shards, ingest

    if folder.is_dir() and finished_shards(folder):
        report = ingest(folder, cache)
        logging.getLogger("mmgenre").info(
            "resuming: %d entries from %d shards in %s were new to the cache", report.entries, report.shards, folder
        )


COMMANDS = [features]
