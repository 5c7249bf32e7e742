"""`eval`: score a trained run on any dataset, beside trivial references on the same posters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmgenre.data.dataset import Poster, PosterDataset, genre_matrix
from mmgenre.data.sources import open_dataset
from mmgenre.data.splits import chosen_ids
from mmgenre.errors import DatasetError
from mmgenre.evaluation.metrics import evaluate_scores
from mmgenre.evaluation.references import reference_metrics
from mmgenre.predictor import Predictor
from mmgenre.training.model_io import TrainedModel


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
    """The run's own split on its training data; the recipe's split (and filters) of other data; None for all."""
    if split == "all":
        return None
    if dataset.reference == trained.info.data:
        return trained.info.splits[split]
    return chosen_ids(dataset, trained.recipe.spec.data, trained.recipe.source)[split]


def evaluate_run(
    predictor: Predictor,
    data: str | dict | None,
    registry,
    *,
    split: str = "test",
    resize_to: int | None = None,
    progress: bool | None = None,
) -> Evaluation:
    """Metrics of a run on a split of `data` (at 0.5, at tuned thresholds, and trivial references)."""
    trained = predictor.trained
    labels = trained.info.labels
    dataset = open_dataset(data if data is not None else trained.info.data, labels, registry)
    wanted = split_poster_ids(trained, dataset, split)
    chosen = set(wanted) if wanted is not None else None
    candidates = [p for p in dataset.posters if chosen is None or p.id in chosen]
    features = predictor.features([p.path for p in candidates], dataset.skips, resize_to=resize_to, progress=progress)
    if not len(features):
        raise DatasetError(
            f"none of the {len(candidates)} posters of {dataset.location} to evaluate could be used "
            f"({dataset.skips.summary(dataset.rows, 'rows')})"
        )
    posters = [candidates[row] for row in features.rows]
    targets = genre_matrix(posters, labels)
    scores = predictor.scores(features)
    metrics = {
        "run": str(trained.run.path),
        "data": dataset.reference or dataset.location,
        "split": split,
        "resize_to": resize_to,
        **evaluate_scores(targets, scores, trained.thresholds, labels),
        "references": reference_metrics(np.array(trained.info.train_genre_counts), targets, labels),
        "skipped": dataset.skips.counts(),
    }
    return Evaluation(metrics, trained, posters, targets, scores, features.texts)
