"""A trained run, loaded once, answering many requests: predict, eval, `predict --data` and the server use it.

It owns what is expensive (the head, the encoders on its device, an OCR engine set up once, through a local
executor) and is thread-safe: requests are served one batch at a time under a lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mmgenre.components.executor import Executor
from mmgenre.data.skips import SkipLog
from mmgenre.features.devices import resolve_device
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.local_executor import LocalExecutor
from mmgenre.features.pipeline import extract_features, recipe_settings
from mmgenre.features.store import FeatureStore, MemoryStore
from mmgenre.prediction import Prediction, make_predictions
from mmgenre.registry import Registry
from mmgenre.training.model_io import TrainedModel, load_trained
from mmgenre.training.scoring import predict_scores


class Predictor:
    def __init__(
        self,
        trained: TrainedModel,
        *,
        device: str = "cpu",
        store: FeatureStore | None = None,
        ocr_workers: int = 1,
        executor: Executor | None = None,
    ) -> None:
        self.trained, self.device, self.store = trained, device, store
        settings = recipe_settings(trained.recipe)
        self.settings = type(settings)(**{**asdict(settings), "device": device, "ocr_workers": ocr_workers})
        self.executor: Executor | LocalExecutor = LocalExecutor(self.settings) if executor is None else executor
        if executor is not None:
            executor.run_settings = self.settings  # a cluster executor (--executor) computes as this predictor
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        run: str | Path,
        *,
        device: str = "cpu",
        store: FeatureStore | None = None,
        registry: Registry | None = None,
        ocr_workers: int = 1,
        executor: Executor | None = None,
    ) -> Predictor:
        device = resolve_device(device)
        trained = load_trained(str(run), device, registry)
        return cls(trained, device=device, store=store, ocr_workers=ocr_workers, executor=executor)

    @property
    def labels(self) -> list[str]:
        return self.trained.info.labels

    def info(self) -> dict:
        """What a client needs to know about the model: labels, thresholds, recipe, components and versions."""
        info = self.trained.info
        return {
            "run": str(self.trained.run.path),
            "labels": info.labels,
            "thresholds": dict(zip(info.labels, map(float, self.trained.thresholds))),
            "recipe": self.trained.recipe.to_dict(),
            "components": info.components or self.trained.recipe.provenance,
            "versions": info.versions,
            "device": self.device,
            "test_metrics": {
                k: v for k, v in self.trained.run.metrics().get("test", {}).items() if isinstance(v, float)
            },
        }

    def features(
        self, items: list, skips: SkipLog | None = None, *, resize_to: int | None = None, progress: bool | None = False
    ) -> FeatureSet:
        """Features of the posters (paths, or (name, bytes) uploads): through the store if there is one, else
        through a memory store dropped after the call."""
        store = self.store if self.store is not None else MemoryStore()
        with self._lock:
            return extract_features(
                self.trained.recipe, items, store, resize_to=resize_to, skips=skips, progress=progress,
                executor=self.executor, settings=self.settings,
            )  # fmt: skip

    def scores(self, features: FeatureSet) -> np.ndarray:
        """(N, C) genre probabilities."""
        with self._lock:
            return predict_scores(self.trained.model, features, device=self.device)

    def predict(self, items: list, skips: SkipLog | None = None) -> list[Prediction]:
        """One prediction per usable poster, in input order (the unusable ones are logged in `skips`)."""
        started = time.perf_counter()
        features = self.features(items, skips)
        if len(features) == 0:  # every poster unusable (all logged in `skips`)
            return []
        extracted = time.perf_counter()
        scores = self.scores(features)
        finished = time.perf_counter()
        seconds = {"features": extracted - started, "head": finished - extracted}
        return make_predictions(items, features, scores, self.labels, self.trained.thresholds, seconds)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
