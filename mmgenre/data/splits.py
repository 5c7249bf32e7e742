"""Seeded train/val/test splits, stratified for multi-label data (iterative stratification)."""

from __future__ import annotations

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

from mmgenre.data.dataset import PosterDataset
from mmgenre.recipe import SplitSpec

SPLITS = ("train", "val", "test")


def split_indices(targets: np.ndarray, spec: SplitSpec) -> dict[str, np.ndarray]:
    """Row indices of each split; the same targets and spec always give the same split."""
    rows = np.arange(len(targets))
    if len(rows) < 3:
        return {"train": rows, "val": rows[:0], "test": rows[:0]}
    outer = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=spec.test, random_state=spec.seed)
    rest, test = next(outer.split(rows, targets))
    inner = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=spec.val / (spec.train + spec.val), random_state=spec.seed + 1
    )
    train, val = next(inner.split(rest, targets[rest]))
    return {"train": np.sort(rest[train]), "val": np.sort(rest[val]), "test": np.sort(test)}


def split_ids(dataset: PosterDataset, spec: SplitSpec) -> dict[str, list[str]]:
    """Poster ids per split, drawn over the whole dataset (so the split doesn't depend on the cache)."""
    indices = split_indices(dataset.targets(), spec)
    return {name: [dataset.posters[i].id for i in indices[name]] for name in SPLITS}
