"""`mmgenre train`, `eval` and `predict`."""

from __future__ import annotations

from pathlib import Path

import click

from mmgenre.cli.options import (
    cluster_executor,
    compute_features,
    data_option,
    executor_options,
    json_option,
    limit_option,
    open_data,
    open_executor,
    overwrite_option,
    print_json,
    print_table,
    set_option,
    store_option,
)
from mmgenre.cli.runtime import load_predictor, runtime_option
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.evaluation.slices import SLICERS


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
@store_option
@executor_options
@click.option("--out", type=click.Path(file_okay=False), help="Run folder [default: runs/NAME-TIMESTAMP].")
@limit_option
@overwrite_option
@json_option
def train_command(
    recipe: str | None,
    data_dir: str | None,
    overrides: tuple[str, ...],
    cache_dir: str | None,
    executor: str,
    executor_opts: tuple[str, ...],
    out: str | None,
    limit: int | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Train RECIPE (default: paper) on --data; writes a run folder with weights, recipe and metrics."""
    from mmgenre.features.store_url import open_store
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry
    from mmgenre.training.run_folder import RunFolder
    from mmgenre.training.train import train

    registry = Registry.from_entry_points()
    runner = open_executor(executor, executor_opts, registry)
    resolved = load_recipe(recipe, list(overrides), registry)
    if out is not None:
        RunFolder(out).check_target(overwrite)  # before the dataset is even read
    dataset = open_data(data_dir, resolved, registry)
    with open_store(cache_dir, registry) as cache, runner:
        compute_features(runner, resolved, [p.path for p in dataset.posters[:limit]], cache)
        run = train(resolved, dataset, cache, out, limit=limit, overwrite=overwrite)
    metrics = run.metrics()
    if as_json:
        print_json({"run": str(run.path), **metrics})
        return
    click.echo(f"run folder: {run.path} (best epoch {run.info().best_epoch}, {run.info().seconds:.0f} s)")
    for split in ("val", "test"):
        if split in metrics:
            click.echo(f"\n{split} split ({metrics[split]['posters']} posters):")
            print_table(metric_rows({**metrics[split], "references": metrics[split].get("references", {})}))


def dataset_label(data: str) -> str:
    """A short file-name-safe label of a --data value: the folder's or file's name."""
    import re

    tail = Path(data.partition(":")[2] if ":" in data and not Path(data).exists() else data)
    return re.sub(r"[^\w.-]+", "-", tail.stem if tail.suffix else tail.name) or "data"


device_option = click.option(
    "--device", default="cpu", show_default=True, help="Where the encoders and head run: cpu, cuda, cuda:1, auto."
)


@click.command("eval")
@click.argument("run", metavar="RUN|MODEL")
@data_option
@store_option
@executor_options
@click.option("--split", type=click.Choice(["test", "val", "train", "all"]), default="test", show_default=True)
@click.option("--resize-to", type=click.IntRange(min=16), help="Evaluate on posters downscaled to this width.")
@click.option(
    "--by", "slice_by", type=click.Choice(sorted(SLICERS)), help="Also report metrics per slice of the posters."
)
@device_option
@json_option
def eval_command(
    run: str,
    data_dir: str | None,
    cache_dir: str | None,
    executor: str,
    executor_opts: tuple[str, ...],
    split: str,
    resize_to: int | None,
    slice_by: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Evaluate a trained RUN, or an installed MODEL, on --data (default: the data it was trained on).

    The metrics are saved beside a run folder (eval-SPLIT.json); an installed model's folder is left alone."""
    from mmgenre.evaluation.evaluate import evaluate_run
    from mmgenre.evaluation.slices import slice_metrics
    from mmgenre.features.ocr_stage import default_workers
    from mmgenre.features.store_url import open_store
    from mmgenre.predictor import Predictor
    from mmgenre.registry import Registry
    from mmgenre.training.installed_models import find_model
    from mmgenre.training.run_folder import RunFolder

    registry = Registry.from_entry_points()
    model = find_model(run, registry)
    on = f"{dataset_label(data_dir)}-" if data_dir else ""  # other data than the run's own
    name = f"eval-{on}{split}" + (f"-w{resize_to}" if resize_to else "") + (f"-by-{slice_by}" if slice_by else "")
    if not model.packaged:
        RunFolder(run).check_result(f"{name}.json")  # before any work: the results can be written there
    runner = open_executor(executor, executor_opts, registry)
    with (
        open_store(cache_dir, registry) as cache,
        runner,
        Predictor.load(
            model.path,
            device=device,
            store=cache,
            registry=registry,
            ocr_workers=default_workers(),  # the same OCR worker pool as `features`
            executor=cluster_executor(runner),
        ) as predictor,
    ):
        evaluation = evaluate_run(predictor, data_dir, registry, split=split, resize_to=resize_to)
    metrics = evaluation.metrics
    if slice_by:
        metrics["slices"] = {"by": slice_by, "groups": slice_metrics(evaluation, slice_by)}
    saved = None if model.packaged else RunFolder(run).write_json(f"{name}.json", metrics)
    if as_json:
        print_json(metrics)
        return
    click.echo(
        f"{model.describe()} on {data_dir or 'its training data'} ({split} split, {metrics['posters']} posters):"
    )
    print_table(metric_rows(metrics))
    click.echo("\nper genre (tuned thresholds):")
    print_table(genre_rows(metrics["tuned"]["per_genre"]))
    if slice_by:
        click.echo(f"\nby {slice_by}:")
        print_table([{"slice": g["slice"], "posters": g["posters"], **pick(g)} for g in metrics["slices"]["groups"]])
    if saved is not None:
        click.echo(f"\nwritten to {saved}", err=True)


@click.command("predict")
@click.argument("items", nargs=-1, metavar="[RUN|MODEL] [POSTERS]...")
@click.option(
    "--model",
    "model_name",
    metavar="RUN|MODEL",
    help="A run folder or an installed model (`mmgenre models`) [default: the first argument when it names one, "
    "else the bundled offline-best].",
)
@click.option(
    "--data", "data", help="A folder of posters (searched recursively) or a list file (.txt, or .csv with `file`)."
)
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Write predictions to a .csv or .jsonl file (a rerun resumes)."
)
@store_option
@executor_options
@device_option
@runtime_option
@json_option
def predict_command(
    items: tuple[str, ...],
    model_name: str | None,
    data: str | None,
    out: str | None,
    cache_dir: str | None,
    executor: str,
    executor_opts: tuple[str, ...],
    device: str,
    runtime: str,
    as_json: bool,
) -> None:
    """Predict the genres of POSTERS (files), or of every poster in --data, with a trained RUN, an installed
    MODEL (default: the bundled offline-best) or, with --runtime onnx, a model exported by `mmgenre export`."""
    from mmgenre.batch_prediction import poster_files, predict_to_file
    from mmgenre.data.skips import SkipLog
    from mmgenre.errors import MmgenreError
    from mmgenre.features.ocr_stage import default_workers
    from mmgenre.features.store_url import open_store
    from mmgenre.registry import Registry
    from mmgenre.training.installed_models import split_model_argument

    registry = Registry.from_entry_points()
    model, posters = split_model_argument(items, model_name, registry)
    files = [Path(p) for p in posters] + (poster_files(Path(data)) if data else [])
    if not files:
        raise click.UsageError("give POSTERS or --data")
    workers = default_workers() if len(files) > 8 else 1
    click.echo(f"predicting with {model.describe()}", err=True)
    runner = open_executor(executor, executor_opts, registry)
    with (
        open_store(cache_dir, registry) as cache,
        runner,
        load_predictor(
            runtime,
            str(model.path),
            device=device,
            store=cache,
            registry=registry,
            ocr_workers=workers,
            executor=cluster_executor(runner),
        ) as predictor,
    ):
        if out:
            summary = predict_to_file(predictor, files, Path(out))
            report, skips, done = summary.to_json(), summary.skips, summary.predicted + summary.already_done
        else:
            skips = SkipLog()
            results = predictor.predict(files, skips)
            report, done = {"predictions": [r.to_json() for r in results]}, len(results)
    if as_json:
        print_json({"model": model.describe(), **report, "skipped": [vars(s) for s in skips.skips]})
    elif out:
        click.echo(f"{out}: {summary.predicted:,} predicted now, {summary.already_done:,} already there")
    else:
        for result in results:
            top = ", ".join(f"{g} {s:.2f}" for g, s in list(result.scores.items())[:5])
            click.echo(f"{result.file}: {', '.join(result.genres)}   (top scores: {top})")
    if skips:
        click.echo(skips.summary(len(files)), err=True)
    if done == 0:
        raise MmgenreError(f"none of the {len(files)} posters could be used ({skips.summary(len(files))})")


COMMANDS = [train_command, eval_command, predict_command]
