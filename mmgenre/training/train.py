"""`train`: split a dataset, fit the recipe's head on cached features, tune thresholds, write a run folder."""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from mmgenre import __version__
from mmgenre.components import FusionContext
from mmgenre.data.dataset import PosterDataset
from mmgenre.data.splits import SPLITS, chosen_ids
from mmgenre.errors import DatasetError
from mmgenre.evaluation.metrics import evaluate_scores
from mmgenre.evaluation.references import reference_metrics
from mmgenre.evaluation.thresholds import tune_thresholds
from mmgenre.features.devices import resolve_device
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe
from mmgenre.training.ensemble import Ensemble, build_model
from mmgenre.training.loop import FitResult, fit, seed_everything
from mmgenre.training.prepared import PreparedData, prepare
from mmgenre.training.run_folder import RunContents, RunFolder, RunInfo, SplitScores
from mmgenre.training.scoring import predict_scores
from mmgenre.training.views import with_training_views

log = logging.getLogger("mmgenre")
Part = tuple[FeatureSet, np.ndarray]  # features and targets of one split


def default_run_dir(recipe: ResolvedRecipe, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{recipe.spec.name or 'run'}-{stamp}"


def train(
    recipe: ResolvedRecipe,
    dataset: PosterDataset,
    cache: FeatureStore,
    out: str | Path | None = None,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> RunFolder:
    """Train the recipe on a dataset and write everything to a run folder (checked before any work starts)."""
    started = time.perf_counter()
    run = RunFolder(out or default_run_dir(recipe))
    run.check_target(overwrite)
    if limit:
        dataset = dataclasses.replace(dataset, posters=dataset.posters[:limit])
    ids = chosen_ids(dataset, recipe.spec.data, recipe.source)
    data = prepare(recipe, dataset, cache, ids={i for split in ids.values() for i in split}, progress=progress)
    parts = {name: data.select(ids[name]) for name in SPLITS}
    (train_x, train_y), val_x = parts["train"], parts["val"][0]
    if len(train_x) < 2 or len(val_x) == 0:
        raise DatasetError(
            f"{dataset.location}: too few usable posters to train ({len(train_x)} train, {len(val_x)} val)"
            + (" after data.train_where" if recipe.spec.data.train_where else "")
        )
    device = resolve_device(recipe.spec.train.device)
    context = FusionContext(recipe.labels, data.features.dims(), recipe.image_encoder, recipe.text_encoder, device)
    views, view_rows = with_training_views(parts["train"], recipe, dataset, cache, ids["train"], progress)
    counts = (len(train_x), len(views[0]) - len(train_x), len(val_x), len(parts["test"][0]))
    log.info("training %s on %d posters + %d rows of views (val %d, test %d)", recipe.fusion.name, *counts)
    fitting = time.perf_counter()
    model, result = fit_model(recipe, context, {**parts, "train": views}, progress)
    log.info("training: done, %d epochs in %.1f s", len(result.history), time.perf_counter() - fitting)
    thresholds, metrics, scores = score_splits(model, parts, data, recipe.labels, device)
    info = RunInfo(
        labels=recipe.labels,
        dims=dataclasses.asdict(data.features.dims()),
        data=dataset.reference or {"name": "folder", "params": {"path": dataset.location}},
        splits={name: [data.posters[row].id for row in parts[name][0].rows] for name in SPLITS},
        best_epoch=result.best_epoch,
        train_genre_counts=train_y.sum(axis=0).astype(int).tolist(),
        limit=limit,
        seconds=round(time.perf_counter() - started, 2),
        versions=versions(),
        skipped=dataset.skips.counts(),
        components=recipe.provenance,
        train_views=view_rows,
    )
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    run.save(RunContents(recipe.to_yaml(), info, state, result.history, thresholds.tolist(), metrics, scores))
    return run


def fit_model(recipe: ResolvedRecipe, context: FusionContext, parts: dict[str, Part], progress) -> tuple:
    """The trained classifier: the head, or each member of an ensemble trained from its own seed."""
    spec = recipe.spec.train
    seed_everything(spec.seed)
    model = build_model(recipe, context)
    if not recipe.fusion.trainable:
        return model, FitResult(model.state_dict(), 0, [])
    (train_x, train_y), (val_x, val_y) = parts["train"], parts["val"]
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    results = []
    for index, member in enumerate(members):
        member_spec = spec.model_copy(update={"seed": spec.seed + index})
        loss = recipe.loss.build(torch.from_numpy(train_y.mean(axis=0)))
        results.append(fit(member, loss, train_x, train_y, val_x, val_y, member_spec, context.device, progress))
    history = (
        [{"member": i, **row} for i, r in enumerate(results) for row in r.history]
        if len(results) > 1
        else results[0].history
    )
    return model, FitResult(model.state_dict(), max(r.best_epoch for r in results), history)


def score_splits(
    model: torch.nn.Module, parts: dict[str, Part], data: PreparedData, labels: list[str], device: str
) -> tuple[np.ndarray, dict, dict[str, SplitScores]]:
    """Thresholds tuned on validation; metrics and per-poster scores of validation and test."""
    (val_x, val_y), (test_x, test_y), train_y = parts["val"], parts["test"], parts["train"][1]
    scores = {"val": predict_scores(model, val_x, device=device)}
    thresholds = tune_thresholds(val_y, scores["val"])
    metrics = {"val": evaluate_scores(val_y, scores["val"], thresholds, labels)}
    if len(test_x):
        scores["test"] = predict_scores(model, test_x, device=device)
        metrics["test"] = evaluate_scores(test_y, scores["test"], thresholds, labels)
        metrics["test"]["references"] = reference_metrics(train_y.sum(axis=0), test_y, labels)
    saved = {
        split: SplitScores([data.posters[row].id for row in parts[split][0].rows], values, parts[split][1])
        for split, values in scores.items()
    }
    return thresholds, metrics, saved


def versions() -> dict:
    return {"mmgenre": __version__, "torch": torch.__version__, "python": platform.python_version()}
