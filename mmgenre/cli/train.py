"""`mmgenre train`, `eval` and `predict`."""

from __future__ import annotations

from pathlib import Path

import click

from mmgenre.cli.options import (
    cache_option,
    data_option,
    json_option,
    print_json,
    print_table,
    set_option,
    training_limit_option,
)

HEADLINE = ["macro_f1", "micro_f1", "samples_f1", "hit_ratio", "hit_at_1", "map"]


def metric_rows(metrics: dict) -> list[dict]:
    """The model at tuned thresholds and at 0.5, then the trivial references, as table rows."""
    rows = [
        {"predictor": "model (tuned thresholds)", **pick(metrics["tuned"])},
        {"predictor": "model (threshold 0.5)", **pick(metrics["threshold_0.5"])},
    ]
    for name, values in metrics.get("references", {}).items():
        rows.append({"predictor": f"reference: {name}", **pick(values)})
    return rows


def pick(values: dict) -> dict:
    return {k: f"{values[k]:.4f}" if k in values else "-" for k in HEADLINE}


def genre_rows(per_genre: dict) -> list[dict]:
    return [
        {"genre": g, **{k: f"{v:.3f}" if isinstance(v, float) else v for k, v in m.items()}}
        for g, m in per_genre.items()
    ]


@click.command("train")
@click.argument("recipe", required=False)
@data_option
@set_option
@cache_option
@click.option("--out", type=click.Path(file_okay=False), help="Run folder [default: runs/NAME-TIMESTAMP].")
@training_limit_option
@json_option
def train_command(
    recipe: str | None,
    data_dir: str,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    out: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Train RECIPE (default: paper) on --data; writes a run folder with weights, recipe and metrics."""
    from mmgenre.features.cache import FeatureCache
    from mmgenre.recipe import load_recipe
    from mmgenre.training.train import train

    resolved = load_recipe(recipe, list(overrides))
    with FeatureCache(cache_dir) as cache:
        run = train(resolved, data_dir, cache, out, limit=limit)
    metrics = run.metrics()
    if as_json:
        print_json({"run": str(run.path), **metrics})
        return
    click.echo(f"run folder: {run.path} (best epoch {run.info().best_epoch}, {run.info().seconds:.0f} s)")
    for split in ("val", "test"):
        if split in metrics:
            click.echo(f"\n{split} split ({metrics[split]['posters']} posters):")
            print_table(metric_rows({**metrics[split], "references": metrics[split].get("references", {})}))


@click.command("eval")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@data_option
@cache_option
@click.option("--split", type=click.Choice(["test", "val", "train", "all"]), default="test", show_default=True)
@click.option("--resize-to", type=click.IntRange(min=16), help="Evaluate on posters downscaled to this width.")
@click.option(
    "--by",
    "slice_by",
    type=click.Choice(["decade", "resolution", "language", "n_genres"]),
    help="Also report metrics per slice of the posters.",
)
@json_option
def eval_command(
    run: str,
    data_dir: str,
    cache_dir: str | None,
    split: str,
    resize_to: int | None,
    slice_by: str | None,
    as_json: bool,
) -> None:
    """Evaluate a trained RUN folder on --data (any folder in the dataset format)."""
    from mmgenre.evaluation.evaluate import evaluate_run
    from mmgenre.evaluation.slices import slice_metrics
    from mmgenre.features.cache import FeatureCache
    from mmgenre.training.run_folder import RunFolder

    with FeatureCache(cache_dir) as cache:
        evaluation = evaluate_run(run, data_dir, cache, split=split, resize_to=resize_to)
    metrics = evaluation.metrics
    if slice_by:
        metrics["slices"] = {"by": slice_by, "groups": slice_metrics(evaluation, slice_by)}
    name = f"eval-{split}" + (f"-w{resize_to}" if resize_to else "") + (f"-by-{slice_by}" if slice_by else "")
    saved = RunFolder(run).write_json(f"{name}.json", metrics)
    if as_json:
        print_json(metrics)
        return
    click.echo(f"{run} on {data_dir} ({split} split, {metrics['posters']} posters):")
    print_table(metric_rows(metrics))
    click.echo("\nper genre (tuned thresholds):")
    print_table(genre_rows(metrics["tuned"]["per_genre"]))
    if slice_by:
        click.echo(f"\nby {slice_by}:")
        print_table([{"slice": g["slice"], "posters": g["posters"], **pick(g)} for g in metrics["slices"]["groups"]])
    click.echo(f"\nwritten to {saved}", err=True)


@click.command("predict")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("posters", nargs=-1, required=True, type=click.Path(dir_okay=False))
@cache_option
@json_option
def predict_command(run: str, posters: tuple[str, ...], cache_dir: str | None, as_json: bool) -> None:
    """Predict the genres of POSTER files with a trained RUN."""
    from mmgenre.features.cache import FeatureCache
    from mmgenre.prediction import predict_files

    with FeatureCache(cache_dir) as cache:
        results, skips = predict_files(run, [Path(p) for p in posters], cache)
    if as_json:
        print_json({"predictions": results, "skipped": [vars(s) for s in skips.skips]})
        return
    for result in results:
        top = ", ".join(f"{g} {s:.2f}" for g, s in list(result["scores"].items())[:5])
        click.echo(f"{result['file']}: {', '.join(result['genres'])}   (top scores: {top})")
    if skips:
        click.echo(skips.summary(len(posters)), err=True)


COMMANDS = [train_command, eval_command, predict_command]
