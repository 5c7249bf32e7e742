"""The fusion-head components: typed params, and a `build` that imports torch only when training starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mmgenre.api import ExportedPart, FeatureDims, FusionContext, FusionHead, Params, RecipeError


class ExportableHead(FusionHead):
    """A head whose trained module exports to ONNX as it is (the built-in trainable heads)."""

    def export_onnx(self, module, dims: FeatureDims, path: Path) -> ExportedPart:
        from mmgenre_fusion.onnx_export import export_head

        return export_head(module, self.modalities(), self.uses_tokens(), dims, path)


class CrossAttentionSmsamParams(Params):
    dim: int = Field(512, ge=8, description="shared width after alignment")
    heads: int = Field(8, ge=1, description="attention heads (MCAM and SMSAM)")
    layers: int = Field(2, ge=0, description="sequential multi-head self-attention layers (SMSAM)")
    ffn_hidden: int = Field(1024, ge=8, description="hidden width of the classifier FFN")
    dropout: float = Field(0.1, ge=0, lt=1)
    tokens: bool = Field(False, description="attend over token sequences instead of one pooled vector each")
    cross_attention: bool = Field(True, description="the cross-modal attention (MCAM); off: SMSAM alone (ablation)")


class CrossAttentionSmsamHead(ExportableHead):
    """The paper's head: alignment, cross-modal attention (MCAM), self-attention layers (SMSAM), FFN."""

    name = "cross-attn-smsam"
    Params = CrossAttentionSmsamParams
    added_params = frozenset({"cross_attention"})

    @classmethod
    def conformance_params(cls, folder) -> dict:
        return {"tokens": True, "dim": 32, "heads": 4, "ffn_hidden": 32}  # the token path, with masks to respect

    def uses_tokens(self) -> bool:
        return self.params.tokens

    def build(self, context: FusionContext):
        from mmgenre_fusion.cross_attention import CrossAttentionSmsam

        p = self.params
        if p.dim % p.heads:
            raise RecipeError(f"fusion.params.dim ({p.dim}) must be divisible by fusion.params.heads ({p.heads})")
        dims = context.dims
        image_dim = dims.image_tokens if p.tokens and dims.image_tokens else dims.image
        text_dim = dims.text_tokens if p.tokens and dims.text_tokens else dims.text
        return CrossAttentionSmsam(
            image_dim,
            text_dim,
            len(context.labels),
            dim=p.dim,
            heads=p.heads,
            layers=p.layers,
            ffn_hidden=p.ffn_hidden,
            dropout=p.dropout,
            tokens=p.tokens,
            cross_attention=p.cross_attention,
        )


class MlpParams(Params):
    hidden: int = Field(512, ge=8)
    dropout: float = Field(0.2, ge=0, lt=1)


class ConcatHead(ExportableHead):
    """Baseline: concatenate the pooled image and text vectors (each layer-normed), then an MLP."""

    name = "concat"
    Params = MlpParams

    def build(self, context: FusionContext):
        from mmgenre_fusion.baselines import ConcatFusion

        dims = context.dims
        return ConcatFusion(dims.image, dims.text, len(context.labels), self.params.hidden, self.params.dropout)


class LateFusionHead(ExportableHead):
    """Baseline: one MLP per modality, logits averaged."""

    name = "late"
    Params = MlpParams

    def build(self, context: FusionContext):
        from mmgenre_fusion.baselines import LateFusion

        dims = context.dims
        return LateFusion(dims.image, dims.text, len(context.labels), self.params.hidden, self.params.dropout)


class ImageOnlyHead(ExportableHead):
    """Baseline: an MLP on the pooled image vector alone (no OCR is run)."""

    name = "image-only"
    Params = MlpParams

    def modalities(self) -> frozenset[str]:
        return frozenset({"image"})

    def build(self, context: FusionContext):
        from mmgenre_fusion.baselines import SingleModality

        return SingleModality("image", context.dims.image, len(context.labels), self.params.hidden, self.params.dropout)


class TextOnlyHead(ExportableHead):
    """Baseline: an MLP on the pooled OCR-text vector alone."""

    name = "text-only"
    Params = MlpParams

    def modalities(self) -> frozenset[str]:
        return frozenset({"text"})

    def build(self, context: FusionContext):
        from mmgenre_fusion.baselines import SingleModality

        return SingleModality("text", context.dims.text, len(context.labels), self.params.hidden, self.params.dropout)


class ZeroShotParams(Params):
    templates: list[str] = Field(
        default_factory=lambda: [
            "a poster of a {genre} movie.",
            "a movie poster for a {genre} film.",
            "the poster of a {genre} film.",
        ],
        min_length=1,
        description="prompts; {genre} is replaced by the genre name",
    )
    temperature: float = Field(100.0, gt=0, description="logit scale of the cosine similarities")


class ZeroShotClipHead(FusionHead):
    """No training: CLIP similarity between the poster and genre prompts (needs a CLIP image+text pair)."""

    name = "zero-shot-clip"
    Params = ZeroShotParams
    trainable = False

    def modalities(self) -> frozenset[str]:
        return frozenset({"image"})

    def build(self, context: FusionContext):
        from mmgenre_fusion.zero_shot import ZeroShotClip, genre_prompt_embeddings

        if context.text_encoder is None:
            raise RecipeError("fusion head 'zero-shot-clip' needs the recipe's text_encoder to embed prompts")
        prompts = genre_prompt_embeddings(context.text_encoder, context.labels, self.params.templates, context.device)
        if prompts.shape[-1] != context.dims.image:
            raise RecipeError(
                f"zero-shot-clip needs image and text embeddings in one space: the image "
                f"encoder gives {context.dims.image}-d, the text encoder {prompts.shape[-1]}-d"
            )
        return ZeroShotClip(prompts, self.params.temperature)
