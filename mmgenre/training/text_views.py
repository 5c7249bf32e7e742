"""OCR dropout: the train split's posters again, each with the same image features but OCR text that lost some of
its lines (or all of them) and had the rest shuffled, so the head does not lean on text that small or busy posters
often lose. Each copy is fixed per poster (seeded by its content), so its embeddings are computed once and cached."""

from __future__ import annotations

import hashlib
import random

import numpy as np

from mmgenre.features.featureset import FeatureSet, concatenate, pad_tokens
from mmgenre.features.namespaces import text_key
from mmgenre.features.store import FeatureStore
from mmgenre.features.text_embeddings import embed_texts
from mmgenre.recipe import ResolvedRecipe, TextViews


def degraded_text(text: str, views: TextViews, rng: random.Random) -> str:
    """The OCR text with each line kept at 1 - `drop_lines` (none at all at `drop_text`), then shuffled."""
    if rng.random() < views.drop_text:
        return ""
    lines = [line for line in text.split("\n") if line.strip() and rng.random() >= views.drop_lines]
    if views.shuffle:
        rng.shuffle(lines)
    return "\n".join(lines)


def copy_rng(content_key: str, copy: int, views: TextViews) -> random.Random:
    """The same numbers for a poster's copy in every run and process (not Python's salted hash)."""
    seed = hashlib.blake2b(f"{content_key}|{copy}|{views.model_dump_json()}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(seed, "big"))


def with_text_views(
    part: tuple[FeatureSet, np.ndarray], recipe: ResolvedRecipe, cache: FeatureStore, progress: bool | None = None
) -> tuple[FeatureSet, np.ndarray]:
    """The training rows followed by `train.text_views.copies` copies of them with degraded OCR text (same targets).
    Without the setting, or for a recipe that reads no OCR text, the rows as they are."""
    views = recipe.spec.train.text_views
    features, targets = part
    if views is None or features.texts is None or "text" not in features.arrays:
        return part
    if len(features.content_keys) != len(features):
        raise ValueError("train.text_views needs each row's content key")
    pairs = list(zip(features.texts, features.content_keys))
    copies = [
        [degraded_text(text, views, copy_rng(key, copy, views)) for text, key in pairs] for copy in range(views.copies)
    ]
    embedded = embed_texts(recipe, sorted({t for texts in copies for t in texts}), cache, progress)
    sets, kept_targets = [features], [targets]
    for texts in copies:
        keys = [text_key(text) for text in texts]
        kept = np.array([i for i, key in enumerate(keys) if all(key in a for a in embedded.values())], dtype=np.int64)
        if not len(kept):
            continue
        copy = features.subset(kept)
        copy.texts = [texts[i] for i in kept]
        copy.arrays["text"] = np.stack([embedded["text"][keys[i]] for i in kept]).astype(np.float32)
        if "text_tokens" in copy.arrays:
            copy.arrays["text_tokens"], copy.arrays["text_mask"] = pad_tokens(
                [embedded["text_tokens"][keys[i]] for i in kept]
            )
        sets.append(copy)
        kept_targets.append(targets[kept])
    return concatenate(sets), np.concatenate(kept_targets)
