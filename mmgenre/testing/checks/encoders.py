"""Checks for image and text encoders: shapes and dtypes that match `info()`, masks, determinism, batch-size
independence, and (images) preprocessing the GPU decoding path can reproduce."""

from __future__ import annotations

from typing import Any

from mmgenre.components import Encoded, EncoderInfo, ImageEncoder
from mmgenre.testing.contract import Violation, check, expect
from mmgenre.testing.samples import TEXTS, poster, scene
from mmgenre.testing.workbench import Workbench

ENCODERS = ("image_encoder", "text_encoder")
ATOL, RTOL = 1e-4, 1e-3  # batch-size independence: float32 kernels may sum in another order


def loaded(bench: Workbench) -> Any:
    """The encoder, loaded on the CPU once for the checks that encode."""

    def make():
        encoder = bench.make()
        encoder.load("cpu")
        return encoder

    return bench.once("loaded", make)


def samples(bench: Workbench) -> tuple[list, list[str]]:
    """Three inputs and how to name them in messages."""
    if issubclass(bench.component, ImageEncoder):
        from PIL import ImageOps

        images = [poster(), scene(), ImageOps.invert(scene())]
        return images, ["the sample poster", "a landscape scene", "an inverted scene"]
    return list(TEXTS), [repr(text[:30]) for text in TEXTS]


def encode(encoder: Any, items: list) -> Encoded:
    import torch

    with torch.inference_mode():
        if isinstance(encoder, ImageEncoder):
            return encoder.encode(torch.stack([encoder.preprocess(image) for image in items]))
        return encoder.encode(items)


def sample_output(bench: Workbench, encoder: Any) -> tuple:
    """The pooled vectors of the samples (rounded to 1e-4), for comparing two settings."""
    encoder.load("cpu")
    return tuple(encode(encoder, samples(bench)[0]).pooled.float().mul(1e4).round().flatten().tolist())


def encoded_samples(bench: Workbench) -> Encoded:
    return bench.once("encoded", lambda: encode(loaded(bench), samples(bench)[0]))


@check(
    *ENCODERS,
    contract="after load(), info() returns an EncoderInfo: `dim` (the pooled width) a positive int, `token_dim` a "
    "positive int when the encoder provides tokens, and `preprocessing` a dict",
    fix="return EncoderInfo(dim=..., token_dim=... or None, preprocessing={...}) with the widths encode() gives",
)
def info_describes_the_outputs(bench: Workbench) -> None:
    info = loaded(bench).info()
    expect(isinstance(info, EncoderInfo), f"info() returned {type(info).__name__}")
    expect(isinstance(info.dim, int) and info.dim > 0, f"dim = {info.dim!r}")
    if bench.component.provides_tokens:
        expect(
            isinstance(info.token_dim, int) and info.token_dim > 0,
            f"provides_tokens, but token_dim = {info.token_dim!r}",
        )
    expect(isinstance(info.preprocessing, dict), f"preprocessing = {info.preprocessing!r}")


@check(
    *ENCODERS,
    contract="encode() gives `pooled` as a float tensor (B, D) with D == info().dim: one finite row per input, "
    "different for different inputs (the empty text included)",
    fix="return Encoded(pooled=...) with one row per input in input order; guard divisions (an empty text has no "
    "tokens to average) and put the model in eval() mode",
)
def pooled_vectors_match_info(bench: Workbench) -> None:
    import torch

    encoded, names = encoded_samples(bench), samples(bench)[1]
    pooled, dim = encoded.pooled, loaded(bench).info().dim
    expect(isinstance(pooled, torch.Tensor), f"pooled is {type(pooled).__name__}")
    expect(tuple(pooled.shape) == (3, dim), f"pooled has shape {tuple(pooled.shape)} for 3 inputs, info().dim = {dim}")
    expect(pooled.is_floating_point(), f"pooled has dtype {pooled.dtype}")
    for row, name in zip(pooled, names):
        expect(torch.isfinite(row).all(), f"the embedding of {name} is not finite")
    for i in range(3):
        for j in range(i + 1, 3):
            same = torch.allclose(pooled[i].float(), pooled[j].float(), atol=1e-6)
            expect(not same, f"{names[i]} and {names[j]} have the same embedding")


@check(
    *ENCODERS,
    contract="an encoder with `provides_tokens` gives `tokens` (B, L, Dt) with Dt == info().token_dim and `mask` "
    "(B, L) of dtype bool, True for real tokens; every input keeps at least one real token (heads attend over "
    "them), the empty text too",
    fix="return Encoded(pooled, tokens, mask.bool()); for an empty text keep a special token (e.g. [CLS]) real",
    applies=lambda bench: bench.component.provides_tokens,
)
def tokens_and_masks_match_info(bench: Workbench) -> None:
    import torch

    encoded, names = encoded_samples(bench), samples(bench)[1]
    tokens, mask, width = encoded.tokens, encoded.mask, loaded(bench).info().token_dim
    if tokens is None or mask is None:
        raise Violation(f"provides_tokens, but encode() gave tokens={tokens!r:.40} and mask={mask!r:.40}")
    expect(
        tokens.dim() == 3 and tokens.shape[0] == 3 and tokens.shape[2] == width,
        f"tokens have shape {tuple(tokens.shape)} for 3 inputs, info().token_dim = {width}",
    )
    expect(tokens.is_floating_point(), f"tokens have dtype {tokens.dtype}")
    expect(mask.dtype == torch.bool, f"mask has dtype {mask.dtype}, not torch.bool")
    expect(tuple(mask.shape) == tuple(tokens.shape[:2]), f"mask {tuple(mask.shape)} vs tokens {tuple(tokens.shape)}")
    for row, (real, name) in enumerate(zip(mask.sum(1).tolist(), names)):
        expect(real >= 1, f"{name} has no real token")
        expect(torch.isfinite(tokens[row][mask[row]]).all(), f"the tokens of {name} are not finite")


@check(
    *ENCODERS,
    contract="encoding is deterministic under torch.inference_mode(): the same inputs give the same outputs, "
    "encoded twice and after load() is called again",
    fix="call model.eval() in load() (dropout off), seed nothing per call, and make a second load() keep (or "
    "reload) the same weights",
)
def deterministic_under_inference_mode(bench: Workbench) -> None:
    import torch

    encoder, items = loaded(bench), samples(bench)[0]
    first = encoded_samples(bench)
    again = encode(encoder, items)
    expect(torch.equal(first.pooled, again.pooled), "a second encode of the same inputs gave other pooled vectors")
    encoder.load("cpu")
    reloaded = encode(encoder, items)
    expect(torch.equal(first.pooled, reloaded.pooled), "after load() was called again, pooled vectors changed")


@check(
    *ENCODERS,
    contract="an input's embedding does not depend on the batch it is encoded in: each input alone gives the "
    f"pooled vector (and real tokens) it gets in a batch of 3, within atol={ATOL}, rtol={RTOL}",
    fix="mask padding out of pooling and attention, and never normalise across the batch dimension",
)
def batch_size_independent(bench: Workbench) -> None:
    import torch

    encoder, (items, names) = loaded(bench), samples(bench)
    batch = encoded_samples(bench)
    for row, (item, name) in enumerate(zip(items, names)):
        alone = encode(encoder, [item])
        gap = (alone.pooled[0].float() - batch.pooled[row].float()).abs().max().item()
        close = torch.allclose(alone.pooled[0].float(), batch.pooled[row].float(), atol=ATOL, rtol=RTOL)
        expect(close, f"{name} alone vs in a batch of 3: pooled vectors differ by up to {gap:.3g}")
        if alone.tokens is not None and alone.mask is not None and batch.tokens is not None and batch.mask is not None:
            own, in_batch = alone.tokens[0][alone.mask[0]], batch.tokens[row][batch.mask[row]]
            expect(own.shape == in_batch.shape, f"{name} has {len(own)} real tokens alone, {len(in_batch)} in a batch")
            close = torch.allclose(own.float(), in_batch.float(), atol=ATOL, rtol=RTOL)
            expect(close, f"{name} alone vs in a batch of 3: real tokens differ")


@check(
    "image_encoder",
    contract="preprocess(image) gives a float tensor (3, R, R) for posters of any shape, and info().preprocessing "
    "describes it, because on a GPU the posters are decoded and resized there from that description: "
    "`resolution` R, `mean` and `std` (3 values each, pixels scaled to 0..1), optional `crop_pct` (centre crop of "
    "the short side); the GPU path, run here on the CPU, gives embeddings close to preprocess()'s (cosine > 0.95)",
    fix="preprocess = resize the short side, centre-crop to R x R, scale to 0..1, normalise with mean/std, and "
    "declare those numbers in info().preprocessing",
)
def preprocessing_is_declared(bench: Workbench) -> None:
    import numpy as np
    import torch

    from mmgenre.features.gpu_decode import crop_resize_normalise

    encoder = loaded(bench)
    described = encoder.info().preprocessing
    missing = [key for key in ("resolution", "mean", "std") if key not in described]
    expect(not missing, f"info().preprocessing = {described!r} lacks {', '.join(missing)}")
    size = int(described["resolution"])
    images = samples(bench)[0][:2]  # a portrait poster and a landscape scene
    pixels = [encoder.preprocess(image) for image in images]
    for tensor in pixels:
        shape = tuple(getattr(tensor, "shape", ()))
        expect(shape == (3, size, size), f"preprocess gave shape {shape}, resolution = {size}")
        expect(tensor.is_floating_point(), f"preprocess gave dtype {tensor.dtype}")
    decoded = [torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous() for image in images]
    fast = crop_resize_normalise(decoded, described)
    with torch.inference_mode():
        exact_pooled, fast_pooled = encoder.encode(torch.stack(pixels)).pooled, encoder.encode(fast).pooled
    cosine = torch.nn.functional.cosine_similarity(exact_pooled.float(), fast_pooled.float())
    expect(bool((cosine > 0.95).all()), f"cosine similarity between the two paths: {cosine.tolist()}")
