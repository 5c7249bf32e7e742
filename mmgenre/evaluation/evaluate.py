"""`eval`: score a trained run on any dataset folder, beside trivial references on the same posters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmgenre.data.dataset import Poster, PosterDataset, load_dataset
from mmgenre.data.splits import split_ids
from mmgenre.evaluation.metrics import evaluate_scores
from mmgenre.evaluation.references import reference_metrics
from mmgenre.features.cache import FeatureCache
from mmgenre.training.model_io import TrainedModel, load_trained
from mmgenre.training.prepared import prepare
from mmgenre.training.scoring import predict_scores


@dataclass
class Evaluation:
    """A run's scores on a set of posters, with what reports and slices need."""

    metrics: dict
    trained: TrainedModel
    posters: list[Poster]  # aligned with targets and scores
    targets: np.ndarray
    scores: np.ndarray
    texts: list[str] | None


def split_poster_ids(trained: TrainedModel, dataset: PosterDataset, split: str) -> list[str] | None:
    """The run's own split on its training folder; the recipe's split of any other folder; None for all."""
    if split == "all":
        return None
    if Path(trained.info.data) == dataset.root.resolve():
        return trained.info.splits[split]
    return split_ids(dataset, trained.recipe.spec.data.split)[split]


def evaluate_run(
    run_path: str | Path,
    data_dir: str | Path,
    cache: FeatureCache,
    *,
    split: str = "test",
    resize_to: int | None = None,
    progress: bool | None = None,
) -> Evaluation:
    """Metrics of a run on a split of `data_dir` (at 0.5, at tuned thresholds, and trivial references)."""
    trained = load_trained(str(run_path))
    labels = trained.info.labels
    dataset = load_dataset(data_dir, labels)
    data = prepare(
        trained.recipe,
        dataset,
        cache,
        ids=split_poster_ids(trained, dataset, split),
        resize_to=resize_to,
        progress=progress,
    )
    scores = predict_scores(trained.model, data.features)
    metrics = {
        "run": str(run_path),
        "data": str(data_dir),
        "split": split,
        "resize_to": resize_to,
        **evaluate_scores(data.targets, scores, trained.thresholds, labels),
        "references": reference_metrics(np.array(trained.info.train_genre_counts), data.targets, labels),
        "skipped": dataset.skips.counts(),
    }
    return Evaluation(metrics, trained, data.posters, data.targets, scores, data.features.texts)
