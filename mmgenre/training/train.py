"""`train`: split a dataset, fit the recipe's head on cached features, tune thresholds, write a run folder."""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from datetime import datetime
from pathlib import Path

import torch

from mmgenre import __version__
from mmgenre.components import FusionContext
from mmgenre.data.dataset import load_dataset
from mmgenre.data.splits import SPLITS, split_ids
from mmgenre.errors import DatasetError
from mmgenre.evaluation.metrics import evaluate_scores
from mmgenre.evaluation.references import reference_metrics
from mmgenre.evaluation.thresholds import tune_thresholds
from mmgenre.features.cache import FeatureCache
from mmgenre.features.devices import resolve_device
from mmgenre.recipe import ResolvedRecipe
from mmgenre.training.loop import FitResult, fit, seed_everything
from mmgenre.training.prepared import prepare
from mmgenre.training.run_folder import RunFolder, RunInfo, SplitScores
from mmgenre.training.scoring import predict_scores

log = logging.getLogger("mmgenre")


def default_run_dir(recipe: ResolvedRecipe, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{recipe.spec.name or 'run'}-{stamp}"


def train(
    recipe: ResolvedRecipe,
    data_dir: str | Path,
    cache: FeatureCache,
    out: str | Path | None = None,
    *,
    limit: int | None = None,
    progress: bool | None = None,
) -> RunFolder:
    """Train the recipe on a dataset folder and write everything to a run folder."""
    started = time.perf_counter()
    dataset = load_dataset(data_dir, recipe.labels)
    if limit:
        dataset.posters = dataset.posters[:limit]
    ids = split_ids(dataset, recipe.spec.data.split)
    data = prepare(recipe, dataset, cache, progress=progress)
    parts = {name: data.select(ids[name]) for name in SPLITS}
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = parts["train"], parts["val"], parts["test"]
    if len(train_x) == 0 or len(val_x) == 0:
        raise DatasetError(f"{data_dir}: too few usable posters to train ({len(train_x)} train, {len(val_x)} val)")
    device = resolve_device(recipe.spec.train.device)
    seed_everything(recipe.spec.train.seed)
    context = FusionContext(recipe.labels, data.features.dims(), recipe.image_encoder, recipe.text_encoder, device)
    model = recipe.fusion.build(context)
    log.info("training %s on %d posters (val %d, test %d)", recipe.fusion.name, len(train_x), len(val_x), len(test_x))
    if recipe.fusion.trainable:
        loss = recipe.loss.build(torch.from_numpy(train_y.mean(axis=0)))
        result = fit(model, loss, train_x, train_y, val_x, val_y, recipe.spec.train, device, progress)
    else:
        result = FitResult(model.state_dict(), 0, [])
    scores = {"val": predict_scores(model, val_x, device=device)}
    thresholds = tune_thresholds(val_y, scores["val"])
    metrics = {"val": evaluate_scores(val_y, scores["val"], thresholds, recipe.labels)}
    if len(test_x):
        scores["test"] = predict_scores(model, test_x, device=device)
        metrics["test"] = evaluate_scores(test_y, scores["test"], thresholds, recipe.labels)
        metrics["test"]["references"] = reference_metrics(train_y.sum(axis=0), test_y, recipe.labels)
    saved_scores = {}
    for split, split_scores in scores.items():
        features, targets = parts[split]
        saved_scores[split] = SplitScores([data.posters[row].id for row in features.rows], split_scores, targets)
    info = RunInfo(
        labels=recipe.labels,
        dims=dataclasses.asdict(data.features.dims()),
        data=str(Path(data_dir).resolve()),
        splits=ids,
        best_epoch=result.best_epoch,
        train_genre_counts=train_y.sum(axis=0).astype(int).tolist(),
        limit=limit,
        seconds=round(time.perf_counter() - started, 2),
        versions=versions(),
        skipped=data.dataset.skips.counts(),
    )
    run = RunFolder(out or default_run_dir(recipe))
    run.save(
        recipe.to_yaml(),
        info,
        {k: v.cpu() for k, v in model.state_dict().items()},
        result.history,
        thresholds.tolist(),
        metrics,
        saved_scores,
    )
    return run


def versions() -> dict:
    return {"mmgenre": __version__, "torch": torch.__version__, "python": platform.python_version()}
