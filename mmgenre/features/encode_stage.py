"""Encoding images and texts in batches, only for the keys the cache does not hold yet."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mmgenre.components import Encoded, ImageEncoder, TextEncoder
from mmgenre.data.skips import SkipLog
from mmgenre.features.cache import FeatureCache, batched
from mmgenre.features.codec import pack, unpack
from mmgenre.features.progress import progress_bar
from mmgenre.features.sources import ImageOptions, Source


@dataclass
class Embeddings:
    """Cached embeddings by key: pooled (D,) and, when asked for, tokens (L, Dt) (padding removed)."""

    pooled: dict[str, np.ndarray]
    tokens: dict[str, np.ndarray] | None = None
    computed: int = 0  # how many were encoded now (the rest came from the cache)


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def split_encoded(encoded: Encoded, with_tokens: bool) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """A batch -> per-item (pooled, tokens-without-padding) numpy arrays."""
    pooled = encoded.pooled.float().cpu().numpy()
    if not with_tokens or encoded.tokens is None:
        return [(row, None) for row in pooled]
    tokens = encoded.tokens.float().cpu().numpy()
    mask = encoded.mask.cpu().numpy() if encoded.mask is not None else np.ones(tokens.shape[:2], bool)
    return [(pooled[i], tokens[i][mask[i]]) for i in range(len(pooled))]


class _Lookup:
    """The cache namespaces of one encoder, and what is missing from them."""

    def __init__(self, encoder, cache: FeatureCache, with_tokens: bool, variant: str = "") -> None:
        self.cache = cache
        self.with_tokens = with_tokens and encoder.provides_tokens
        self.pooled_ns = cache.namespace(encoder, "pooled" + variant)
        self.tokens_ns = cache.namespace(encoder, "tokens" + variant) if self.with_tokens else None

    def missing(self, keys: list[str]) -> list[str]:
        missing = set(self.cache.missing(self.pooled_ns, keys))
        if self.tokens_ns:
            missing.update(self.cache.missing(self.tokens_ns, keys))
        return [k for k in dict.fromkeys(keys) if k in missing]

    def store(self, items: list[tuple[str, np.ndarray, np.ndarray | None]]) -> None:
        self.cache.put_many(self.pooled_ns, [(k, *pack(pooled)) for k, pooled, _ in items])
        if self.tokens_ns:
            self.cache.put_many(self.tokens_ns, [(k, *pack(tokens)) for k, _, tokens in items if tokens is not None])

    def read(self, keys: list[str]) -> Embeddings:
        pooled = {k: unpack(*v) for k, v in self.cache.get_many(self.pooled_ns, keys).items()}
        tokens = None
        if self.tokens_ns:
            tokens = {k: unpack(*v) for k, v in self.cache.get_many(self.tokens_ns, keys).items()}
        return Embeddings(pooled, tokens)


def encode_images(
    encoder: ImageEncoder,
    sources: list[Source],
    cache: FeatureCache,
    options: ImageOptions,
    skips: SkipLog,
    *,
    with_tokens: bool = False,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    gpu_decode: bool = False,
    bf16: bool = False,
    progress: bool | None = None,
) -> Embeddings:
    """Embeddings of every readable source; the encoder is loaded only if something is missing.

    GPU decoding and bf16 change the numbers a little, so their features are cached apart.
    """
    from mmgenre.features.image_batches import image_batches

    variant = ("@gpu-decode" if gpu_decode else "") + ("@bf16" if bf16 else "")
    lookup = _Lookup(encoder, cache, with_tokens, variant)
    keys = [s.key for s in sources]
    missing = set(lookup.missing(keys))
    todo = list({s.key: s for s in sources if s.key in missing}.values())
    if todo:
        encoder.load(device)
        batches = image_batches(
            encoder,
            todo,
            options,
            device=device,
            batch_size=batch_size,
            workers=workers,
            gpu_decode=gpu_decode,
            bf16=bf16,
        )
        with progress_bar(len(todo), f"image encoder ({encoder.name})", progress) as bar:
            for batch in batches:
                for i, error in batch.bad:
                    skips.skip(str(todo[i].path), error.category, error.detail)
                if batch.encoded is not None:
                    parts = split_encoded(batch.encoded, lookup.with_tokens)
                    lookup.store([(todo[i].key, pooled, tokens) for i, (pooled, tokens) in zip(batch.indices, parts)])
                bar.update(len(batch.indices) + len(batch.bad))
    embeddings = lookup.read(keys)
    embeddings.computed = len(todo)
    return embeddings


def encode_texts(
    encoder: TextEncoder,
    texts: list[str],
    cache: FeatureCache,
    *,
    with_tokens: bool = False,
    device: str = "cpu",
    batch_size: int = 64,
    bf16: bool = False,
    progress: bool | None = None,
) -> Embeddings:
    """Embeddings by text key (see `text_key`) for every distinct text."""
    from contextlib import nullcontext

    import torch

    lookup = _Lookup(encoder, cache, with_tokens, "@bf16" if bf16 else "")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    by_key = {text_key(t): t for t in texts}
    todo = lookup.missing(list(by_key))
    if todo:
        encoder.load(device)
        with progress_bar(len(todo), f"text encoder ({encoder.name})", progress, unit="text") as bar:
            for chunk in batched(todo, batch_size):
                with torch.inference_mode(), autocast:
                    encoded = encoder.encode([by_key[k] for k in chunk])
                parts = split_encoded(encoded, lookup.with_tokens)
                lookup.store([(k, pooled, tokens) for k, (pooled, tokens) in zip(chunk, parts)])
                bar.update(len(chunk))
    embeddings = lookup.read(list(by_key))
    embeddings.computed = len(todo)
    return embeddings
