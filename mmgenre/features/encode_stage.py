"""Encoding posters and texts into cache entries, batch by batch (no store involved: the executor stores)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from mmgenre.components import Encoded, ImageEncoder, TextEncoder
from mmgenre.data.images import BadImage
from mmgenre.features.allocator import keep_freed_memory
from mmgenre.features.cache import batched
from mmgenre.features.codec import pack
from mmgenre.features.namespaces import Namespace
from mmgenre.features.sources import ImageOptions, Source
from mmgenre.features.store import Entry

log = logging.getLogger("mmgenre")


@dataclass
class EntryBatch:
    """Entries by namespace from one batch, the posters that could not be used, and how many items it covered."""

    entries: dict[str, list[Entry]] = field(default_factory=dict)
    bad: list[tuple[Source, BadImage]] = field(default_factory=list)
    items: int = 0


def split_encoded(encoded: Encoded, with_tokens: bool) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """A batch -> per-item (pooled, tokens-without-padding) numpy arrays."""
    pooled = encoded.pooled.float().cpu().numpy()
    if not with_tokens or encoded.tokens is None:
        return [(row, None) for row in pooled]
    tokens = encoded.tokens.float().cpu().numpy()
    mask = encoded.mask.cpu().numpy() if encoded.mask is not None else np.ones(tokens.shape[:2], bool)
    return [(pooled[i], tokens[i][mask[i]]) for i in range(len(pooled))]


def encoded_entries(
    keys: list[str], encoded: Encoded, pooled: Namespace, tokens: Namespace | None
) -> dict[str, list[Entry]]:
    """A batch's embeddings as entries of the pooled (and tokens) namespaces."""
    parts = split_encoded(encoded, tokens is not None)
    finite = [np.isfinite(p).all() and (t is None or np.isfinite(t).all()) for p, t in parts]
    if not all(finite):  # never cached: such a poster is left out, not scored NaN
        log.warning(
            "%s gave non-finite features for %d posters: they are not stored", pooled.component, finite.count(False)
        )
        keys, parts = [k for k, ok in zip(keys, finite) if ok], [p for p, ok in zip(parts, finite) if ok]
    entries: dict[str, list[Entry]] = {pooled.name: [(key, *pack(p)) for key, (p, _) in zip(keys, parts)]}
    if tokens is not None:
        entries[tokens.name] = [(key, *pack(t)) for key, (_, t) in zip(keys, parts) if t is not None]
    return entries


def image_entry_batches(
    encoder: ImageEncoder,
    sources: list[Source],
    options: ImageOptions,
    pooled: Namespace,
    tokens: Namespace | None,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
    gpu_decode: bool = False,
    bf16: bool = False,
    gpu_decoder: str = "nvjpeg",
) -> Iterator[EntryBatch]:
    """Encode every source; the encoder is loaded on `device` first."""
    from mmgenre.features.image_batches import image_batches

    keep_freed_memory()
    encoder.load(device)
    batches = image_batches(
        encoder,
        sources,
        options,
        device=device,
        batch_size=batch_size,
        workers=workers,
        gpu_decode=gpu_decode,
        bf16=bf16,
        gpu_decoder=gpu_decoder,
    )
    for batch in batches:
        result = EntryBatch(
            bad=[(sources[i], error) for i, error in batch.bad], items=len(batch.indices) + len(batch.bad)
        )
        if batch.encoded is not None:
            result.entries = encoded_entries([sources[i].key for i in batch.indices], batch.encoded, pooled, tokens)
        yield result


def text_entry_batches(
    encoder: TextEncoder,
    texts: dict[str, str],
    pooled: Namespace,
    tokens: Namespace | None,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    bf16: bool = False,
) -> Iterator[EntryBatch]:
    """Embed texts (text key -> text) batch by batch, shortest first; the encoder is loaded on `device` first."""
    import torch

    keep_freed_memory()
    encoder.load(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    by_length = sorted(texts, key=lambda key: len(texts[key]))  # a batch is padded to its longest text
    for chunk in batched(by_length, batch_size):
        with torch.inference_mode(), autocast:
            encoded = encoder.encode([texts[key] for key in chunk])
        yield EntryBatch(encoded_entries(chunk, encoded, pooled, tokens), items=len(chunk))
