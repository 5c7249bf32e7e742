"""Training views: the train split's posters again, downscaled the way posters from other catalogues arrive
(182 px wide on posters-kaggle), so the head also learns from what small posters and their OCR give."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from mmgenre.data.dataset import PosterDataset
from mmgenre.data.skips import SkipLog
from mmgenre.features.featureset import FeatureSet, concatenate
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe
from mmgenre.training.prepared import prepare


def with_downscaled_views(
    part: tuple[FeatureSet, np.ndarray],
    recipe: ResolvedRecipe,
    dataset: PosterDataset,
    cache: FeatureStore,
    ids: Collection[str],
    progress: bool | None = None,
) -> tuple[FeatureSet, np.ndarray]:
    """The training rows followed by one more copy per `train.downscaled_views` width (same targets). A poster
    whose small copy can't be used is left out of that view only; it is not logged as skipped from the run."""
    widths = recipe.spec.train.downscaled_views
    if not widths:
        return part
    quiet = dataclasses.replace(dataset, skips=SkipLog())
    sets, targets = [part[0]], [part[1]]
    for width in widths:
        features, view_targets = prepare(recipe, quiet, cache, ids=ids, resize_to=width, progress=progress).select(ids)
        sets.append(features)
        targets.append(view_targets)
    return concatenate(sets), np.concatenate(targets)
