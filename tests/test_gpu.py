"""CUDA paths (nvJPEG decoding, bf16, training on the GPU): run with `pytest -m gpu` on a machine with a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import POSTERS, poster_rows, train_cli

from mmgenre.features.cache import FeatureCache
from mmgenre.features.pipeline import extract_features
from mmgenre.recipe import load_recipe

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def paths():
    assert torch.cuda.is_available(), "these tests need a CUDA GPU"
    return [POSTERS / row["file"] for row in poster_rows(128)]


def image_features(paths, cache_dir, *overrides):
    recipe = load_recipe(
        "paper-offline",
        [
            "fusion.name=image-only",
            "image_encoder.params.variant=lite0",
            "features.device=cuda",
            "features.batch_size=64",
            *overrides,
        ],
    )
    with FeatureCache(cache_dir) as cache:
        return extract_features(recipe, paths, cache, progress=False)


def test_gpu_decoding_and_bf16_match_the_cpu_preprocessing(paths, tmp_path):
    fast = image_features(paths, tmp_path)
    exact = image_features(paths, tmp_path, "features.decode=cpu", "features.precision=fp32")
    assert len(fast) == len(exact) == len(paths)
    a, b = fast.arrays["image"], exact.arrays["image"]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.mean() > 0.97 and cosine.min() > 0.9, f"cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}"
    with FeatureCache(tmp_path) as cache:
        outputs = {row.output for row in cache.info()}
    assert {"pooled@gpu-decode@bf16", "pooled"} <= outputs  # cached apart


def test_training_on_the_gpu(posters_dir, session_cache, tiny_recipe, tmp_path):
    settings = ["train.device=cuda", "features.device=cuda", "fusion.name=image-only"]
    result = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "run", *settings)
    assert result.exit_code == 0, result.stderr
