"""Posters of a dataset with their features and targets aligned row by row."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from mmgenre.data.augment import PosterView
from mmgenre.data.dataset import Poster, PosterDataset, genre_matrix
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.pipeline import extract_features
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe


@dataclass
class PreparedData:
    dataset: PosterDataset
    posters: list[Poster]  # the posters that have features, aligned with features and targets
    features: FeatureSet
    targets: np.ndarray  # (N, C)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.posters]

    def select(self, ids: Collection[str]) -> tuple[FeatureSet, np.ndarray]:
        """Features and targets of the posters with these ids (those without features are absent)."""
        wanted = set(ids)
        positions = np.array([i for i, poster_id in enumerate(self.ids) if poster_id in wanted], dtype=np.int64)
        return self.features.subset(positions), self.targets[positions]


def prepare(
    recipe: ResolvedRecipe,
    dataset: PosterDataset,
    cache: FeatureStore,
    *,
    ids: Collection[str] | None = None,
    resize_to: int | None = None,
    view: PosterView | None = None,
    progress: bool | None = None,
) -> PreparedData:
    """Features the recipe needs for the dataset's posters (only those in `ids`, when given), decoded as they are
    stored or downscaled to `resize_to` or as an augmented `view`."""
    wanted = set(ids) if ids is not None else None
    candidates = [p for p in dataset.posters if wanted is None or p.id in wanted]
    features = extract_features(
        recipe,
        [p.path for p in candidates],
        cache,
        resize_to=resize_to,
        view=view,
        skips=dataset.skips,
        progress=progress,
    )
    posters = [candidates[row] for row in features.rows]
    features.rows = np.arange(len(posters))  # rows now index `posters`
    return PreparedData(dataset, posters, features, genre_matrix(posters, dataset.labels))
