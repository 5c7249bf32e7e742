"""An exported model, loaded once, answering many requests on onnxruntime: the same interface as
`mmgenre.predictor.Predictor` (predict, info, labels, store, executor), without importing torch.

OCR runs with the recipe's engine as in the torch runtime; the encoders and the head are the exported ONNX
files. Their features go through the same pipeline (plan, store, assemble), so they are rounded as the torch
runtime's are, and they are cached under namespaces of their own.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from mmgenre.components import Component
from mmgenre.data.skips import SkipLog
from mmgenre.errors import MmgenreError
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.pipeline import extract_features
from mmgenre.features.plan import Settings
from mmgenre.features.store import FeatureStore, MemoryStore
from mmgenre.onnx_runtime.executor import OnnxExecutor
from mmgenre.onnx_runtime.manifest import ExportManifest, Part, read_manifest
from mmgenre.onnx_runtime.sessions import ImageEncoderPart, OnnxPart, TextEncoderPart
from mmgenre.prediction import Prediction, make_predictions
from mmgenre.recipe import ResolvedRecipe, read_yaml, resolve_recipe
from mmgenre.registry import Registry

BATCH = 512  # posters per head call


class ExportedEncoder(Component):
    """Stands in for an exported encoder in the feature plan. Its identity is the original's plus the runtime:
    onnxruntime's numbers differ from torch's in the last digits, so a shared feature cache never mixes them."""

    def __init__(self, kind: str, part: Part) -> None:
        super().__init__()
        self.kind, self.name = kind, part.component  # type: ignore[misc]
        self.provides_tokens = "tokens" in part.outputs
        self._identity = {**part.identity, "runtime": "onnx"}

    def identity(self) -> dict:
        return self._identity

    def has_tail(self) -> bool:
        return False  # a run whose encoders have trainable tails is not exported


def runtime_recipe(recipe: ResolvedRecipe, manifest: ExportManifest) -> ResolvedRecipe:
    """The run's recipe with the exported encoders in place of the torch ones."""
    parts = dict(recipe.parts)
    for key in ("image_encoder", "text_encoder"):
        part = getattr(manifest, key)
        if part is not None:
            parts[key] = ExportedEncoder(key, part)
    return ResolvedRecipe(recipe.spec, recipe.source, parts, recipe.provenance)


def prepare_all(parts: list[OnnxPart]) -> None:
    for part in parts:
        part.prepare()


class OnnxPredictor:
    def __init__(
        self, folder: Path, manifest: ExportManifest, recipe: ResolvedRecipe, *, store: FeatureStore | None = None,
        ocr_workers: int = 1,
    ) -> None:  # fmt: skip
        self.folder, self.manifest, self.store, self.device = folder, manifest, store, "cpu"
        self.recipe = runtime_recipe(recipe, manifest)
        self.thresholds = np.array(manifest.thresholds)
        self.settings = Settings("cpu", recipe.spec.features.batch_size, ocr_workers)
        image = ImageEncoderPart(folder, manifest.image_encoder) if manifest.image_encoder else None
        text = TextEncoderPart(folder, manifest.text_encoder) if manifest.text_encoder else None
        self.executor = OnnxExecutor(self.settings, image, text)
        self.head = OnnxPart(folder, manifest.fusion)
        self._lock = threading.Lock()
        parts = [part for part in (image, text, self.head) if part is not None]
        # The sessions open in the background while the caller goes on (OCR, decoding): a cold start overlaps them.
        threading.Thread(target=prepare_all, args=(parts,), daemon=True).start()

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        device: str = "cpu",
        store: FeatureStore | None = None,
        registry: Registry | None = None,
        ocr_workers: int = 1,
    ) -> OnnxPredictor:
        """The export in `folder` (written by `mmgenre export`); its ONNX files are opened on first use."""
        if device != "cpu":
            raise MmgenreError(f"--runtime onnx runs on the CPU: --device {device} is for the torch runtime")
        folder = Path(folder)
        manifest = read_manifest(folder)
        recipe = resolve_recipe(read_yaml(folder / "recipe.yaml"), str(folder / "recipe.yaml"), registry=registry)
        if recipe.labels != manifest.labels:
            raise MmgenreError(
                f"{folder}: recipe.yaml and {folder / 'manifest.json'} name different genres: the export was edited "
                "or mixed from two exports; export the run again"
            )
        return cls(folder, manifest, recipe, store=store, ocr_workers=ocr_workers)

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    def info(self) -> dict:
        """What a client needs to know about the model, as the torch predictor says it."""
        m = self.manifest
        components = {key: getattr(m, key).component for key in ("image_encoder", "text_encoder", "fusion")}
        return {
            "run": str(self.folder),
            "labels": m.labels,
            "thresholds": dict(zip(m.labels, m.thresholds)),
            "recipe": self.recipe.spec.model_dump(mode="json"),
            "components": {**{k: v for k, v in components.items() if v}, "ocr": m.ocr},
            "versions": m.versions,
            "device": self.device,
            "runtime": "onnx",
            "exported_from": m.run,
        }

    def features(self, items: list, skips: SkipLog | None = None, *, progress: bool | None = False) -> FeatureSet:
        store = self.store if self.store is not None else MemoryStore()
        with self._lock:
            return extract_features(
                self.recipe, items, store, skips=skips, progress=progress, executor=self.executor,
                settings=self.settings,
            )  # fmt: skip

    def scores(self, features: FeatureSet) -> np.ndarray:
        """(N, C) genre probabilities: the exported head over the features, in batches."""
        scores = []
        with self._lock:
            for start in range(0, len(features), BATCH):
                positions = np.arange(start, min(start + BATCH, len(features)))
                feed = {
                    name: (a if name.endswith("_mask") else a.astype(np.float32))
                    for name, a in ((n, np.ascontiguousarray(v[positions])) for n, v in features.arrays.items())
                }
                scores.append(self.head.run(feed)["scores"])
        return np.concatenate(scores) if scores else np.zeros((0, len(self.labels)), dtype=np.float32)

    def predict(self, items: list, skips: SkipLog | None = None) -> list[Prediction]:
        """One prediction per usable poster, in input order (the unusable ones are logged in `skips`)."""
        started = time.perf_counter()
        features = self.features(items, skips)
        if len(features) == 0:
            return []
        extracted = time.perf_counter()
        scores = self.scores(features)
        seconds = {"features": extracted - started, "head": time.perf_counter() - extracted}
        return make_predictions(items, features, scores, self.labels, self.thresholds, seconds)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> OnnxPredictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
