"""Embeddings of texts that no poster gave (e.g. OCR text with lines dropped), through the store: text embeddings
are keyed by the text, so each new text costs one text-encoder pass once and is cached like any other."""

from __future__ import annotations

import numpy as np

from mmgenre.data.skips import SkipLog
from mmgenre.features.assemble import read_arrays
from mmgenre.features.namespaces import feature_spaces, text_key
from mmgenre.features.plan import FeaturePlan, missing_in
from mmgenre.features.sources import ImageOptions
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe


def embed_texts(
    recipe: ResolvedRecipe, texts: list[str], store: FeatureStore, progress: bool | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """The recipe's text features of `texts`: by feature name ('text', and 'text_tokens' when the recipe's head
    or text encoder's tail reads tokens), then by `text_key(text)`. Computes only what the store lacks."""
    from mmgenre.features.local_executor import LocalExecutor
    from mmgenre.features.pipeline import recipe_settings

    spaces = feature_spaces(recipe)
    if spaces.text is None:
        return {}
    for space in spaces.all():
        store.register(space)
    by_key = {text_key(text): text for text in texts}
    plan = FeaturePlan([], spaces, ImageOptions(), None, None, recipe.text_encoder)
    plan.text_todo = {key: by_key[key] for key in missing_in(store, [spaces.text, spaces.text_tokens], list(by_key))}
    if plan.text_todo:
        runner = LocalExecutor(recipe_settings(recipe))
        try:
            runner.execute(plan, store, SkipLog(), progress)
        finally:
            runner.close()
    found = {name: read_arrays(store, getattr(spaces, name), list(by_key)) for name in ("text", "text_tokens")}
    return {name: arrays for name, arrays in found.items() if arrays is not None}
