"""The default executor: this machine's cores (OCR worker processes) and its GPU if any (encoders).

It owns what is expensive to start (OCR worker processes, loaded encoders), so one executor can run many
plans: `predict --data` and a server reuse it batch after batch. Close it when done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.encode_stage import EntryBatch, image_entry_batches, text_entry_batches
from mmgenre.features.ocr_stage import OcrPool
from mmgenre.features.plan import FeaturePlan, Settings
from mmgenre.features.progress import Progress
from mmgenre.features.store import Entry, FeatureStore

FLUSH_EVERY = 32  # OCR results per store transaction
FLUSH_SECONDS = 5.0


class LocalExecutor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pools: dict[str, OcrPool] = {}
        self.latencies: list[float] = []  # seconds per poster read by OCR engines (benchmarks)

    def execute(
        self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None = None
    ) -> dict[str, int]:
        """Compute what the plan lacks and write it to the store; returns the items computed per stage."""
        computed = {}
        if plan.image_todo and plan.image_encoder is not None:
            computed["image_encoder"] = self._images(plan, store, skips, progress)
        if plan.ocr_todo and plan.ocr is not None:
            computed["ocr"] = self._ocr(plan, store, skips, progress)
        if plan.text_todo and plan.text_encoder is not None:
            computed["text_encoder"] = self._texts(plan, store, progress)
        return computed

    def _images(self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None) -> int:
        s, encoder = self.settings, plan.image_encoder
        assert encoder is not None and plan.spaces.image is not None
        batches = image_entry_batches(
            encoder, plan.image_todo, plan.options, plan.spaces.image, plan.spaces.image_tokens,
            device=s.device, batch_size=s.batch_size, workers=s.loader_workers, gpu_decode=s.gpu_decode, bf16=s.bf16,
            gpu_decoder=s.gpu_decoder,
        )  # fmt: skip
        return store_batches(
            batches, store, skips, Progress(len(plan.image_todo), f"image encoder ({encoder.name})", progress)
        )

    def _texts(self, plan: FeaturePlan, store: FeatureStore, progress: bool | None) -> int:
        s, encoder = self.settings, plan.text_encoder
        assert encoder is not None and plan.spaces.text is not None
        batches = text_entry_batches(
            encoder, plan.text_todo, plan.spaces.text, plan.spaces.text_tokens,
            device=s.device, batch_size=s.batch_size, bf16=s.bf16,
        )  # fmt: skip
        bar = Progress(len(plan.text_todo), f"text encoder ({encoder.name})", progress, unit="text")
        return store_batches(batches, store, SkipLog(), bar)

    def _ocr(self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None) -> int:
        engine, space = plan.ocr, plan.spaces.ocr
        assert engine is not None and space is not None
        pool = self._pool(plan)
        pending: list[Entry] = []
        last_flush = time.monotonic()
        with Progress(len(plan.ocr_todo), f"OCR ({engine.name})", progress) as bar:
            for source, outcome in pool.read(plan.ocr_todo):
                bar.update(1)
                if outcome.status == "fatal":
                    store.put_many(space.name, pending)
                    raise ComponentUnavailableError(f"OCR engine '{engine.name}' cannot run: {outcome.detail}")
                if outcome.status == "ok":
                    pending.append((source.key, outcome.result, b""))
                    self.latencies.append(outcome.seconds)
                else:
                    skips.skip(str(source), outcome.category, outcome.detail)
                if len(pending) >= FLUSH_EVERY or (pending and time.monotonic() - last_flush > FLUSH_SECONDS):
                    store.put_many(space.name, pending)
                    pending, last_flush = [], time.monotonic()
            store.put_many(space.name, pending)
        return len(plan.ocr_todo)

    def _pool(self, plan: FeaturePlan) -> OcrPool:
        assert plan.ocr is not None
        fingerprint = plan.ocr.fingerprint() + repr(plan.options)
        if fingerprint not in self._pools:
            self._pools[fingerprint] = OcrPool(plan.ocr, plan.options, self.settings.ocr_workers)
        return self._pools[fingerprint]

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_batches(batches: Iterator[EntryBatch], store: FeatureStore, skips: SkipLog, bar: Progress) -> int:
    """Write each batch's entries as it comes (a killed run keeps what was done); returns the items seen."""
    seen = 0
    with bar:
        for batch in batches:
            for source, error in batch.bad:
                skips.skip(str(source), error.category, error.detail)
            for namespace, entries in batch.entries.items():
                store.put_many(namespace, entries)
            seen += batch.items
            bar.update(batch.items)
    return seen
