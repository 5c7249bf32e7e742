"""CLIP through Hugging Face transformers: `CLIPModel` from a hub id or a local folder."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from mmgenre.api import ComponentUnavailableError, Encoded, EncoderInfo, ImageEncoder, Params, TextEncoder
from mmgenre_clip.hub import LocalWeights, check_local, hub_reachable, weights_unavailable
from mmgenre_clip.preprocess import OPENAI_MEAN, OPENAI_STD, clip_preprocessing, clip_transform
from mmgenre_clip.shared import Loaded, SharedModels

_shared = SharedModels()  # one loaded CLIPModel per (source, device) while a tower holds it


class HfClipParams(Params):
    model: str = Field("openai/clip-vit-base-patch32", description="hub id of a CLIPModel")
    weights: str | None = Field(None, description="local folder saved with save_pretrained (overrides model)")
    precision: str = Field("fp32", description="fp32, or bf16/fp16 on GPU")


def load_hf_clip(params: HfClipParams, device: str, key: str) -> Loaded:
    """The CLIPModel for the params, loaded once per device; fails at once when it can't be had."""
    cache_key = (params.model, params.weights, params.precision, device)
    return _shared.get(cache_key, lambda: _create(params, device, key))


def _source(params: HfClipParams, key: str) -> tuple[str, bool, list[str]]:
    """Where to load from, whether only local files may be used, and what was tried (for errors)."""
    if params.weights:
        folder = check_local(params.weights, f"CLIP weights {params.weights}", key)
        return str(folder), True, [f"the local folder {folder}"]
    if hub_reachable():
        return params.model, False, ["the local Hugging Face cache", "downloading from the hub"]
    return (
        params.model,
        True,
        ["the local Hugging Face cache", "the hub (unreachable: no network, or HF_HUB_OFFLINE=1)"],
    )


def _create(params: HfClipParams, device: str, key: str):
    try:
        import torch
        from transformers import CLIPModel
    except ImportError:
        raise ComponentUnavailableError("transformers is not installed: pip install 'mmgenre[clip]'") from None
    source, local_only, tried = _source(params, key)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[params.precision]
    try:
        model = CLIPModel.from_pretrained(source, local_files_only=local_only, dtype=dtype)
    except Exception as error:
        raise weights_unavailable(f"transformers CLIP '{source}'", tried, key, error) from None
    return model.to(device).eval(), source, local_only


def image_statistics(source: str) -> tuple[tuple, tuple]:
    """Mean/std from a local preprocessor_config.json when there is one, else CLIP's."""
    config = Path(source) / "preprocessor_config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        return tuple(data.get("image_mean", OPENAI_MEAN)), tuple(data.get("image_std", OPENAI_STD))
    return OPENAI_MEAN, OPENAI_STD


class HfClipTower(LocalWeights):
    """What both transformers CLIP towers share."""

    name = "hf-clip"
    Params = HfClipParams
    provides_tokens = True
    requires_modules = ("transformers",)
    install_hint = "pip install 'mmgenre[clip]'"

    @classmethod
    def conformance_params(cls, folder):
        from mmgenre_clip.tiny import write_tiny_hf_clip

        return {"weights": str(write_tiny_hf_clip(folder))}  # random weights: no pretrained CLIP offline


class HfClipImage(HfClipTower, ImageEncoder):
    """CLIP image tower via transformers CLIPModel (hub id or local folder); tokens = patch tokens."""

    def load(self, device: str) -> None:
        self._loaded = load_hf_clip(self.params, device, "image_encoder")
        self._model, source, _ = self._loaded.value
        self._mean, self._std = image_statistics(source)

    def _size(self) -> int:
        return int(self._model.config.vision_config.image_size) if getattr(self, "_model", None) else 224

    def info(self) -> EncoderInfo:
        config = self._model.config
        return EncoderInfo(
            dim=int(config.projection_dim),
            token_dim=int(config.vision_config.hidden_size),
            preprocessing=clip_preprocessing(self._size(), self._mean, self._std),
        )

    def preprocess(self, image):
        if getattr(self, "_transform", None) is None:
            mean, std = getattr(self, "_mean", OPENAI_MEAN), getattr(self, "_std", OPENAI_STD)
            self._transform = clip_transform(self._size(), mean, std)
        return self._transform(image)

    def encode(self, pixels) -> Encoded:
        import torch

        output = self._model.vision_model(pixel_values=pixels.to(self._model.dtype))
        pooled = self._model.visual_projection(output.pooler_output)  # (B, D)
        tokens = output.last_hidden_state  # (B, 1 + patches, W)
        return Encoded(
            pooled=pooled, tokens=tokens, mask=torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        )


class HfClipText(HfClipTower, TextEncoder):
    """CLIP text tower via transformers CLIPModel and its tokenizer; tokens = BPE tokens."""

    def load(self, device: str) -> None:
        from transformers import AutoTokenizer

        self._loaded = load_hf_clip(self.params, device, "text_encoder")
        self._model, source, local_only = self._loaded.value
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        except Exception as error:
            raise weights_unavailable(f"the CLIP tokenizer of '{source}'", [source], "text_encoder", error) from None
        self._device = device

    def info(self) -> EncoderInfo:
        config = self._model.config
        return EncoderInfo(
            dim=int(config.projection_dim),
            token_dim=int(config.text_config.hidden_size),
            preprocessing={
                "tokenizer": type(self._tokenizer).__name__,
                "max_length": int(config.text_config.max_position_embeddings),
            },
        )

    def encode(self, texts: list[str]) -> Encoded:
        limit = int(self._model.config.text_config.max_position_embeddings)
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
        batch = {k: v.to(self._device) for k, v in batch.items()}
        output = self._model.text_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = self._model.text_projection(output.pooler_output)  # (B, D)
        return Encoded(pooled=pooled, tokens=output.last_hidden_state, mask=batch["attention_mask"].bool())
