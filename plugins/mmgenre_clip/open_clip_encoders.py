"""CLIP through open_clip: any architecture and pretrained tag, `hf-hub:` names, or local weights."""

from __future__ import annotations

from pydantic import Field

from mmgenre.api import ComponentUnavailableError, Encoded, EncoderInfo, ImageEncoder, Params, TextEncoder
from mmgenre_clip.hub import LocalWeights, check_local, hub_reachable, offline_hub, weights_unavailable
from mmgenre_clip.preprocess import clip_preprocessing, clip_transform
from mmgenre_clip.shared import Loaded, SharedModels

_shared = SharedModels()  # one loaded model per (source, device) while a tower holds it


class OpenClipParams(Params):
    model: str = Field("ViT-B-32", description="open_clip architecture, or 'hf-hub:org/repo'")
    pretrained: str | None = Field("openai", description="open_clip pretrained tag (ignored for hf-hub: names)")
    weights: str | None = Field(None, description="local weights file, or a folder with open_clip_config.json")
    precision: str = Field("fp32", description="fp32, or bf16/fp16 on GPU")


def load_open_clip(params: OpenClipParams, device: str, key: str) -> Loaded:
    """(model, tokenizer) for the params; fails at once with what was tried when weights can't be had."""
    cache_key = (params.model, params.pretrained, params.weights, params.precision, device)
    return _shared.get(cache_key, lambda: _with_tokens(*_create(params, device, key)))


def _with_tokens(model, tokenizer):
    """The vision tower returns its patch tokens too, set once here (never flipped per call: threads share it)."""
    if hasattr(model.visual, "output_tokens"):
        model.visual.output_tokens = True
    return model, tokenizer


def _create(params: OpenClipParams, device: str, key: str):
    try:
        import open_clip
    except ImportError:
        raise ComponentUnavailableError("open_clip is not installed: pip install 'mmgenre[clip]'") from None
    what = f"open_clip weights for {params.model}"
    if params.weights:
        target = check_local(params.weights, what, key)
        name = f"local-dir:{target}" if target.is_dir() else params.model
        pretrained = None if target.is_dir() else str(target)
        tried = [f"the local {'folder' if target.is_dir() else 'file'} {target}"]
        attempt = lambda: open_clip.create_model(
            name,
            pretrained=pretrained,
            device=device,  # noqa: E731
            precision=params.precision,
            require_pretrained=True,
        )
        return _attempt(attempt, what, tried, key), open_clip.get_tokenizer(name)
    if not params.model.startswith("hf-hub:"):
        tags = open_clip.list_pretrained_tags_by_model(params.model)
        if params.model not in open_clip.list_models():
            raise ComponentUnavailableError(
                f"unknown open_clip architecture '{params.model}' (see open_clip.list_models())"
            )
        if params.pretrained not in tags:
            raise ComponentUnavailableError(
                f"unknown pretrained tag '{params.pretrained}' for {params.model}; known: {', '.join(tags) or '(none)'}"
            )
        what += f" (pretrained='{params.pretrained}')"
    tried = ["the local Hugging Face cache"]

    def attempt():
        return open_clip.create_model(
            params.model,
            pretrained=params.pretrained,
            device=device,
            precision=params.precision,
            require_pretrained=True,
        )

    if hub_reachable():
        tried.append("downloading from the hub")
        return _attempt(attempt, what, tried, key), open_clip.get_tokenizer(params.model)
    tried.append("the hub (unreachable: no network, or HF_HUB_OFFLINE=1)")
    with offline_hub():
        return _attempt(attempt, what, tried, key), open_clip.get_tokenizer(params.model)


def _attempt(create, what, tried, key):
    try:
        return create().eval()
    except Exception as error:  # open_clip raises RuntimeError, FileNotFoundError, ValueError...
        raise weights_unavailable(what, tried, key, error) from None


class OpenClipTower(LocalWeights):
    """What both open_clip towers share."""

    name = "open-clip"
    Params = OpenClipParams
    provides_tokens = True
    requires_modules = ("open_clip",)
    install_hint = "pip install 'mmgenre[clip]'"

    @classmethod
    def conformance_params(cls, folder):
        from mmgenre_clip.tiny import write_tiny_open_clip

        return {"weights": str(write_tiny_open_clip(folder))}  # random weights: no pretrained CLIP offline


class OpenClipImage(OpenClipTower, ImageEncoder):
    """CLIP image tower via open_clip (the paper: ViT-B-32 / openai); tokens = patch tokens."""

    def load(self, device: str) -> None:
        self._loaded = load_open_clip(self.params, device, "image_encoder")
        self._model, _ = self._loaded.value

    def _size(self) -> int:
        size = getattr(self, "_model", None) and self._model.visual.image_size
        return int(size[0] if isinstance(size, tuple) else size) if size else 224

    def info(self) -> EncoderInfo:
        visual = self._model.visual
        return EncoderInfo(
            dim=int(visual.output_dim),
            token_dim=getattr(visual, "width", None) or getattr(getattr(visual, "transformer", None), "width", None),
            preprocessing=clip_preprocessing(self._size()),
        )

    def preprocess(self, image):
        if getattr(self, "_transform", None) is None:
            self._transform = clip_transform(self._size())
        return self._transform(image)

    def encode(self, pixels) -> Encoded:
        import torch

        visual = self._model.visual
        if getattr(visual, "output_tokens", False):
            pooled, tokens = visual(pixels.to(next(visual.parameters()).dtype))  # (B, D), (B, L, W)
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
            return Encoded(pooled=pooled, tokens=tokens, mask=mask)
        return Encoded(pooled=self._model.encode_image(pixels))


class OpenClipText(OpenClipTower, TextEncoder):
    """CLIP text tower via open_clip; tokens = BPE tokens up to end-of-text."""

    def load(self, device: str) -> None:
        self._loaded = load_open_clip(self.params, device, "text_encoder")
        self._model, self._tokenizer = self._loaded.value
        self._device = device

    def info(self) -> EncoderInfo:
        probe = self.encode(["probe"])
        token_dim = probe.tokens.shape[-1] if probe.tokens is not None else None
        return EncoderInfo(
            dim=int(probe.pooled.shape[-1]),
            token_dim=token_dim,
            preprocessing={"tokenizer": "CLIP BPE", "max_length": self._tokenizer.context_length},
        )

    def encode(self, texts: list[str]) -> Encoded:
        import torch
        from open_clip.transformer import text_global_pool

        ids = self._tokenizer(texts).to(self._device)  # (B, 77)
        model = self._model
        if not hasattr(model, "token_embedding"):  # custom text towers: pooled only
            return Encoded(pooled=model.encode_text(ids))
        cast = model.transformer.get_cast_dtype()
        x = model.token_embedding(ids).to(cast) + model.positional_embedding.to(cast)
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))  # (B, 77, W)
        pooled = text_global_pool(x, ids, model.text_pool_type, getattr(model, "text_eos_id", None))
        projection = model.text_projection
        pooled = projection(pooled) if isinstance(projection, torch.nn.Linear) else pooled @ projection
        mask = ids != 0  # open_clip pads with 0
        return Encoded(pooled=pooled, tokens=x, mask=mask)
