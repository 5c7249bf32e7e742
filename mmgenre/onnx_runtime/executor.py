"""The local executor with the exported encoders in place of the torch ones: OCR runs as it does in the torch
runtime (the recipe's engine, in this process or in workers), images and texts go through onnxruntime."""

from __future__ import annotations

from mmgenre.data.skips import SkipLog
from mmgenre.features.local_executor import LocalExecutor, store_batches
from mmgenre.features.plan import FeaturePlan, Settings
from mmgenre.features.progress import Progress
from mmgenre.features.store import FeatureStore
from mmgenre.onnx_runtime.sessions import ImageEncoderPart, TextEncoderPart


class OnnxExecutor(LocalExecutor):
    def __init__(self, settings: Settings, image: ImageEncoderPart | None, text: TextEncoderPart | None) -> None:
        super().__init__(settings)
        self.image, self.text = image, text

    def _images(self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None) -> int:
        assert self.image is not None and plan.spaces.image is not None
        spaces = (plan.spaces.image, plan.spaces.image_tokens)
        batches = self.image.entry_batches(plan.image_todo, plan.options, spaces, self.settings.batch_size)
        name = self.image.part.component
        return store_batches(batches, store, skips, Progress(len(plan.image_todo), f"image encoder ({name})", progress))

    def _texts(self, plan: FeaturePlan, store: FeatureStore, progress: bool | None) -> int:
        assert self.text is not None and plan.spaces.text is not None
        spaces = (plan.spaces.text, plan.spaces.text_tokens)
        batches = self.text.entry_batches(plan.text_todo, spaces, self.settings.batch_size)
        name = self.text.part.component
        bar = Progress(len(plan.text_todo), f"text encoder ({name})", progress, unit="text")
        return store_batches(batches, store, SkipLog(), bar)
