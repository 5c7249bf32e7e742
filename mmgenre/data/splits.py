"""Seeded train/val/test splits, stratified for multi-label data (iterative stratification), then narrowed by the
recipe's filters (`data.train_where`, `data.test_where`) and size cap (`data.train_max`)."""

from __future__ import annotations

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

from mmgenre.data.dataset import Poster, PosterDataset
from mmgenre.recipe import DataSpec, SplitSpec

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


def chosen_ids(dataset: PosterDataset, data: DataSpec, source: str = "") -> dict[str, list[str]]:
    """The split's ids narrowed by the recipe's filters (validation follows the training side) and train_max."""
    from mmgenre.data.filters import parse_filter

    ids = split_ids(dataset, data.split)
    by_id = {poster.id: poster for poster in dataset.posters}
    columns = columns_of(dataset)
    for key, splits in (("train_where", ("train", "val")), ("test_where", ("test",))):
        text = getattr(data, key)
        if text is None:
            continue
        where = f"data.{key} ({source})" if source else f"data.{key}"
        condition = parse_filter(text, where)
        condition.check_columns(columns, where)
        for split in splits:
            ids[split] = [i for i in ids[split] if condition.matches(row_of(by_id[i]))]
    if data.train_max is not None and len(ids["train"]) > data.train_max:
        share = data.train_max / len(ids["train"])
        rng = np.random.default_rng(data.split.seed)
        for split in ("train", "val"):
            keep = max(1, round(len(ids[split]) * share)) if split == "val" else data.train_max
            chosen = rng.choice(len(ids[split]), size=min(keep, len(ids[split])), replace=False)
            ids[split] = [ids[split][i] for i in sorted(chosen)]
    return ids


def row_of(poster: Poster) -> dict[str, str]:
    """A poster's csv row as filters see it: its metadata and its genres."""
    return {**poster.meta, "genres": "|".join(poster.genres)}


def columns_of(dataset: PosterDataset) -> list[str]:
    return sorted({"genres", *(key for poster in dataset.posters[:1] for key in poster.meta)})
