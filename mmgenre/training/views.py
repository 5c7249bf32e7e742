"""Training views: the train split's posters again, downscaled the way posters from other catalogues arrive
(`train.downscaled_views`: 182 px wide on posters-kaggle) or augmented (`train.augmented_views`: crops, jitter,
TrivialAugmentWide, small widths, JPEG re-compression), so the head also learns from what such posters and their
OCR give. OCR and the encoders run on each view, cached under its own key suffix. With `train.text_views` (OCR
dropout), copies with degraded OCR text come first."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from mmgenre.data.augment import PosterView
from mmgenre.data.dataset import PosterDataset
from mmgenre.data.skips import SkipLog
from mmgenre.features.featureset import FeatureSet, concatenate
from mmgenre.features.pipeline import image_options
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe
from mmgenre.training.prepared import prepare
from mmgenre.training.text_views import with_text_views

View = tuple[int | None, PosterView | None]  # (resize_to, augmented view) of one training view


def training_views(recipe: ResolvedRecipe) -> list[View]:
    """Every view the recipe asks for: each downscaled width, then each augmented copy."""
    spec = recipe.spec.train
    augmented = spec.augmented_views.views() if spec.augmented_views else []
    return [(width, None) for width in spec.downscaled_views] + [(None, view) for view in augmented]


def with_training_views(
    part: tuple[FeatureSet, np.ndarray],
    recipe: ResolvedRecipe,
    dataset: PosterDataset,
    cache: FeatureStore,
    ids: Collection[str],
    progress: bool | None = None,
) -> tuple[tuple[FeatureSet, np.ndarray], dict[str, int]]:
    """The training rows followed by one more copy per view (same targets), and the rows each view added by its
    key suffix (`@w182`, `@v1-...`). A poster whose view can't be made is left out of that view only; it is not
    logged as skipped from the run."""
    views = training_views(recipe)
    with_dropout = with_text_views(part, recipe, cache, progress)
    added = len(with_dropout[0]) - len(part[0])
    if not views and not added:
        return part, {}
    quiet = dataclasses.replace(dataset, skips=SkipLog())
    sets, targets, rows = [with_dropout[0]], [with_dropout[1]], {"ocr-dropout": added} if added else {}
    for resize_to, view in views:
        prepared = prepare(recipe, quiet, cache, ids=ids, resize_to=resize_to, view=view, progress=progress)
        features, view_targets = prepared.select(ids)
        sets.append(features)
        targets.append(view_targets)
        rows[image_options(recipe, resize_to, view).key_suffix()] = len(features)
    return (concatenate(sets), np.concatenate(targets)), rows
