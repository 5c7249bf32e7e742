"""Planning a feature run: hash the posters, ask the store what is missing. Nothing is computed here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mmgenre.components import ImageEncoder, OcrEngine, TextEncoder
from mmgenre.data.skips import SkipLog
from mmgenre.features.namespaces import FeatureSpaces, feature_spaces, text_key
from mmgenre.features.sources import ImageOptions, Source, hash_sources
from mmgenre.features.store import FeatureStore

log = logging.getLogger("mmgenre")


@dataclass(frozen=True)
class Settings:
    """How features are computed: where, in which batches, with how many workers."""

    device: str = "cpu"
    batch_size: int = 64
    ocr_workers: int | None = None  # None: every core
    loader_workers: int = 0
    gpu_decode: bool = False
    bf16: bool = False
    gpu_decoder: str = "nvjpeg"  # or "nvimgcodec" (features.decode=nvimgcodec, when it is installed)

    @classmethod
    def here(cls, spec) -> Settings:
        """From a recipe's `features` section, on this machine's devices (`device: auto` resolved here)."""
        from mmgenre.features.devices import resolve_device

        return cls.of(spec, resolve_device(spec.device))

    @classmethod
    def of(cls, spec, device: str) -> Settings:
        """From a recipe's `features` section, with the device already resolved."""
        from mmgenre.features.ocr_stage import default_workers

        on_gpu = device.startswith("cuda")
        loaders = spec.loader_workers if spec.loader_workers is not None else (default_workers() if on_gpu else 0)
        gpu_decode, bf16 = on_gpu and spec.decode != "cpu", on_gpu and spec.precision != "fp32"
        decoder = gpu_decoder(spec.decode) if gpu_decode else "nvjpeg"
        return cls(device, spec.batch_size, spec.ocr_workers, loaders, gpu_decode, bf16, decoder)


def gpu_decoder(decode: str) -> str:
    """The GPU JPEG decoder for a recipe's `features.decode`: nvImageCodec when asked for and installed."""
    from mmgenre.features.gpu_decode import NVIMGCODEC_HINT, nvimgcodec_available

    if decode != "nvimgcodec":
        return "nvjpeg"
    if nvimgcodec_available():
        return "nvimgcodec"
    log.warning("features.decode=nvimgcodec: nvImageCodec is not installed (%s); decoding with nvJPEG", NVIMGCODEC_HINT)
    return "nvjpeg"


@dataclass
class FeaturePlan:
    """What a run must compute: posters to read (OCR), posters to encode, texts to embed."""

    sources: list[Source | None]  # aligned with the input; None: unreadable (logged in skips)
    spaces: FeatureSpaces
    options: ImageOptions
    ocr: OcrEngine | None
    image_encoder: ImageEncoder | None
    text_encoder: TextEncoder | None
    ocr_todo: list[Source] = field(default_factory=list)
    image_todo: list[Source] = field(default_factory=list)
    text_todo: dict[str, str] = field(default_factory=dict)  # text key -> text, for texts already read

    @property
    def readable(self) -> list[Source]:
        return [source for source in self.sources if source is not None]

    def is_empty(self) -> bool:
        return not (self.ocr_todo or self.image_todo or self.text_todo)


def plan_features(
    recipe, items: list, store: FeatureStore, settings: Settings, options: ImageOptions, skips: SkipLog
) -> FeaturePlan:
    """Hash the posters (`items`: paths or (name, bytes) uploads) and find what the store lacks."""
    spaces = feature_spaces(
        recipe, gpu_decode=settings.gpu_decode, bf16=settings.bf16, gpu_decoder=settings.gpu_decoder
    )
    for space in spaces.all():
        store.register(space)
    plan = FeaturePlan(
        hash_sources(items, options, skips),
        spaces,
        options,
        recipe.ocr if spaces.ocr else None,
        recipe.image_encoder if spaces.image else None,
        recipe.text_encoder if spaces.text else None,
    )
    unique = list({source.key: source for source in plan.readable}.values())
    keys = [source.key for source in unique]
    if spaces.image:
        missing = set(missing_in(store, [spaces.image, spaces.image_tokens], keys))
        plan.image_todo = [source for source in unique if source.key in missing]
    if spaces.ocr:
        missing = set(store.missing(spaces.ocr.name, keys))
        plan.ocr_todo = [source for source in unique if source.key in missing]
        plan_texts(plan, store)
    return plan


def plan_texts(plan: FeaturePlan, store: FeatureStore) -> None:
    """Texts read already (now in the store) whose embeddings are missing; run again after OCR has run."""
    spaces = plan.spaces
    if spaces.ocr is None or spaces.text is None:
        return
    texts = read_texts(store, spaces.ocr.name, [source.key for source in plan.readable])
    by_key = {text_key(text): text for text in texts.values()}
    missing = missing_in(store, [spaces.text, spaces.text_tokens], list(by_key))
    plan.text_todo = {key: by_key[key] for key in missing}


def read_texts(store: FeatureStore, namespace: str, keys: list[str]) -> dict[str, str]:
    """OCR text by poster key, for the keys the store has."""
    from mmgenre.features.codec import text_problem

    found = store.get_many(namespace, keys).items()
    return {key: meta["text"] for key, (meta, _) in found if text_problem(meta) is None}


def missing_in(store: FeatureStore, spaces: list, keys: list[str]) -> list[str]:
    """Keys missing from any of the namespaces (None entries are skipped), in input order."""
    missing: set[str] = set()
    for space in spaces:
        if space is not None:
            missing.update(store.missing(space.name, keys))
    return [key for key in dict.fromkeys(keys) if key in missing]
