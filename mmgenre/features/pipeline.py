"""The feature pipeline: poster files -> OCR text -> image and text embeddings, all through the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgenre.data.skips import SkipLog
from mmgenre.features.cache import FeatureCache
from mmgenre.features.devices import resolve_device
from mmgenre.features.encode_stage import encode_images, encode_texts, text_key
from mmgenre.features.featureset import FeatureSet, pad_tokens
from mmgenre.features.ocr_stage import default_workers, run_ocr
from mmgenre.features.sources import ImageOptions, Source, hash_sources
from mmgenre.recipe import ResolvedRecipe


def loader_workers(on_gpu: bool) -> int:
    """Decoding workers: every core feeds a GPU; on the CPU the encoder needs the cores (measured: decoding
    in the main process keeps 95% of the bare encoder's speed on 2 cores, 2 workers only 87%)."""
    return default_workers() if on_gpu else 0


def image_options(recipe: ResolvedRecipe, resize_to: int | None = None) -> ImageOptions:
    data = recipe.spec.data
    return ImageOptions(min_side=data.min_side, max_pixels=data.max_pixels, resize_to=resize_to)


def extract_features(
    recipe: ResolvedRecipe,
    paths: list[Path],
    cache: FeatureCache,
    *,
    resize_to: int | None = None,
    skips: SkipLog | None = None,
    progress: bool | None = None,
) -> FeatureSet:
    """Features of the posters at `paths` that the recipe's fusion head needs.

    Posters that can't be read or processed are left out (and logged in `skips`); everything already
    in the cache is reused, so a repeated or resumed run only computes what is missing.
    """
    skips = skips if skips is not None else SkipLog()
    options = image_options(recipe, resize_to)
    spec = recipe.spec.features
    needs = recipe.fusion.modalities()
    tokens = recipe.fusion.uses_tokens()
    sources = hash_sources(paths, options, skips)
    readable = [s for s in sources if s is not None]
    arrays: dict[str, dict[str, np.ndarray]] = {}
    computed: dict[str, int] = {}
    texts_by_source: dict[str, str] | None = None
    device = resolve_device(spec.device)
    on_gpu = device.startswith("cuda")
    workers = spec.loader_workers if spec.loader_workers is not None else loader_workers(on_gpu)
    gpu_decode = on_gpu and spec.decode != "cpu"  # both only apply on a GPU
    bf16 = on_gpu and spec.precision != "fp32"

    if "image" in needs and recipe.image_encoder is not None:
        images = encode_images(
            recipe.image_encoder,
            readable,
            cache,
            options,
            skips,
            with_tokens=tokens,
            device=device,
            batch_size=spec.batch_size,
            workers=workers,
            gpu_decode=gpu_decode,
            bf16=bf16,
            progress=progress,
        )
        arrays["image"] = images.pooled
        computed["image_encoder"] = images.computed
        if images.tokens is not None:
            arrays["image_tokens"] = images.tokens
    if "text" in needs and recipe.ocr is not None and recipe.text_encoder is not None:
        readable = [s for s in readable if "image" not in arrays or s.key in arrays["image"]]
        ocr = run_ocr(recipe.ocr, readable, cache, options, skips, workers=spec.ocr_workers, progress=progress)
        texts_by_source = {key: result.text for key, result in ocr.by_key.items()}
        embedded = encode_texts(
            recipe.text_encoder,
            list(texts_by_source.values()),
            cache,
            with_tokens=tokens,
            device=device,
            batch_size=spec.batch_size,
            bf16=bf16,
            progress=progress,
        )
        computed.update(ocr=ocr.computed, text_encoder=embedded.computed)
        arrays["text"] = {k: embedded.pooled[text_key(t)] for k, t in texts_by_source.items()}
        if embedded.tokens is not None:
            arrays["text_tokens"] = {k: embedded.tokens[text_key(t)] for k, t in texts_by_source.items()}
    features = assemble(sources, arrays, texts_by_source)
    features.computed = computed
    return features


def assemble(
    sources: list[Source | None], arrays: dict[str, dict[str, np.ndarray]], texts: dict[str, str] | None
) -> FeatureSet:
    """Stack per-key features into row-aligned arrays, keeping the posters that have all of them."""
    rows = [i for i, s in enumerate(sources) if s is not None and all(s.key in a for a in arrays.values())]
    keys = [sources[i].key for i in rows]  # type: ignore[union-attr]
    stacked: dict[str, np.ndarray] = {}
    for name, by_key in arrays.items():
        values = [by_key[k] for k in keys]
        if name.endswith("_tokens"):
            stacked[name], stacked[name.replace("_tokens", "_mask")] = pad_tokens(values)
        else:
            stacked[name] = np.stack(values).astype(np.float32) if values else np.zeros((0, 0), np.float32)
    return FeatureSet(
        np.array(rows, dtype=np.int64), stacked, [texts[k] for k in keys] if texts is not None else None, keys
    )
