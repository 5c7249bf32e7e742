"""Choosing the GPU JPEG decoder (features.decode): decided when planning, keyed in the namespace, and a missing
nvImageCodec falls back to nvJPEG with a message. Runs anywhere: nothing here decodes."""

from __future__ import annotations

import logging

import pytest

from mmgenre.features.gpu_decode import nvimgcodec_available
from mmgenre.features.namespaces import feature_spaces
from mmgenre.features.plan import Settings
from mmgenre.recipe import load_recipe


def settings(decode: str, device: str = "cuda") -> Settings:
    return Settings.of(load_recipe("paper-offline", [f"features.decode={decode}"]).spec.features, device)


@pytest.mark.skipif(nvimgcodec_available(), reason="nvImageCodec is installed here")
def test_a_missing_nvimgcodec_falls_back_to_nvjpeg_saying_why(caplog):
    with caplog.at_level(logging.WARNING, logger="mmgenre"):
        chosen = settings("nvimgcodec")
    assert chosen.gpu_decode and chosen.gpu_decoder == "nvjpeg"
    assert "nvImageCodec is not installed (pip install nvidia-nvimgcodec" in caplog.text


def test_decoders_only_matter_on_a_gpu_and_each_has_its_own_features():
    assert settings("nvimgcodec", device="cpu").gpu_decode is False
    assert settings("auto").gpu_decoder == "nvjpeg" and settings("cpu").gpu_decode is False
    recipe = load_recipe("paper-offline", [])
    outputs = {
        decoder: feature_spaces(recipe, gpu_decode=True, bf16=True, gpu_decoder=decoder).image.output
        for decoder in ("nvjpeg", "nvimgcodec")
    }
    assert outputs == {"nvjpeg": "pooled@gpu-decode@bf16", "nvimgcodec": "pooled@nvimgcodec@bf16"}
    assert feature_spaces(recipe, gpu_decoder="nvimgcodec").image.output == "pooled"  # CPU decoding


def test_an_unknown_decoder_is_a_recipe_error():
    from mmgenre.errors import RecipeError

    with pytest.raises(RecipeError, match="decode"):
        load_recipe("paper-offline", ["features.decode=dali"])
