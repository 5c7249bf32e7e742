"""Checks for fusion heads: (B, C) logits for the features they read, masks respected, gradients to every
parameter, a state_dict that rebuilds the head, and scores that don't depend on the batch."""

from __future__ import annotations

from typing import Any

from mmgenre.components import FeatureDims, FusionContext, FusionHead
from mmgenre.errors import MmgenreError
from mmgenre.testing.contract import Violation, check, expect
from mmgenre.testing.probe_encoder import ProbeParams, ProbeTextEncoder
from mmgenre.testing.workbench import Workbench

LABELS = ["Action", "Comedy", "Drama", "Horror", "Romance"]
LENGTHS = {"image": [6, 3, 1, 4], "text": [5, 2, 1, 3]}  # real tokens per poster (B = 4)
# Widths all different, so a head that mixes them up fails; some heads (zero-shot CLIP) need one shared space.
WIDTHS = [
    {"image": 24, "text": 16, "image_tokens": 20, "text_tokens": 12},
    {"image": 16, "text": 16, "image_tokens": 20, "text_tokens": 12},
]


def head(bench: Workbench) -> FusionHead:
    return bench.once("head", bench.make)


def uses_tokens(bench: Workbench) -> bool:
    return bool(head(bench).uses_tokens())


def feature_dims(fusion: FusionHead, widths: dict[str, int], tokens: bool) -> FeatureDims:
    """The dims the pipeline gives a head: the modalities it reads, with tokens when it wants them."""
    reads = fusion.modalities()
    return FeatureDims(
        **{
            name: width
            for name, width in widths.items()
            if name.split("_")[0] in reads and (tokens or not name.endswith("_tokens"))
        }
    )


def built(bench: Workbench, tokens: bool = True, seed: int = 0) -> tuple[Any, FeatureDims]:
    """The head's module (seeded) for the first widths it accepts, and those dims."""
    import torch

    fusion, errors = head(bench), []
    for widths in WIDTHS:
        dims = feature_dims(fusion, widths, tokens and fusion.uses_tokens())
        text_encoder = ProbeTextEncoder(ProbeParams(dim=widths["text"]))
        torch.manual_seed(seed)
        try:
            module = fusion.build(FusionContext(list(LABELS), dims, None, text_encoder, "cpu"))
        except MmgenreError as error:  # a head may refuse some widths, e.g. one that needs a shared space
            errors.append(f"{dims}: {error}")
            continue
        expect(isinstance(module, torch.nn.Module), f"build() returned {type(module).__name__}, not an nn.Module")
        return module, dims
    raise Violation(f"build() refused every context it was given: {'; '.join(errors)}")


def features(dims: FeatureDims, seed: int = 0, extra_padding: int = 0, noise: bool = False) -> dict:
    """A batch of 4 posters for these dims: pooled (B, D); tokens (B, L, D) with masks (B, L), real tokens first.
    Padded positions hold zeros, or noise when `noise`; `extra_padding` adds that many padded positions."""
    import torch

    generator, noise_source = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    batch: dict = {}
    for name in ("image", "text"):
        if getattr(dims, name):
            batch[name] = torch.randn(4, getattr(dims, name), generator=generator)
        width = getattr(dims, f"{name}_tokens")
        if width:
            lengths = LENGTHS[name]
            tokens = torch.randn(4, max(lengths), width, generator=generator)  # real tokens: same for any padding
            tokens = torch.cat([tokens, torch.zeros(4, extra_padding, width)], dim=1)  # (B, L, D)
            mask = torch.arange(tokens.shape[1])[None, :] < torch.tensor(lengths)[:, None]  # (B, L)
            padding = torch.randn(tokens.shape, generator=noise_source) * 100 if noise else torch.zeros(tokens.shape)
            batch[f"{name}_tokens"] = torch.where(mask[..., None], tokens, padding)
            batch[f"{name}_mask"] = mask
    return batch


def logits_of(module: Any, batch: dict) -> Any:
    import torch

    module.eval()
    with torch.no_grad():
        return module(batch)


@check(
    "fusion",
    contract="modalities() is a non-empty subset of {'image', 'text'}, uses_tokens() a bool and `trainable` a bool",
    fix="return frozenset({'image'}), frozenset({'text'}) or both from modalities(); return a bool from uses_tokens()",
)
def declares_what_it_reads(bench: Workbench) -> None:
    fusion = head(bench)
    reads = fusion.modalities()
    expect(reads and set(reads) <= {"image", "text"}, f"modalities() = {reads!r}")
    expect(isinstance(fusion.uses_tokens(), bool), f"uses_tokens() = {fusion.uses_tokens()!r}")
    expect(isinstance(bench.component.trainable, bool), f"trainable = {bench.component.trainable!r}")


@check(
    "fusion",
    contract="build(context) returns an nn.Module whose forward(batch) gives finite float logits (B, C), C = "
    "len(context.labels), from the features in context.dims (a head that uses tokens also works when the "
    "encoders provide only pooled vectors)",
    fix="size the layers from context.dims and len(context.labels); read only the batch keys of the modalities "
    "you declare; fall back to pooled vectors when '<modality>_tokens' is missing",
)
def logits_have_one_column_per_genre(bench: Workbench) -> None:
    import torch

    for tokens in (True, False) if uses_tokens(bench) else (True,):
        module, dims = built(bench, tokens)
        logits = logits_of(module, features(dims))
        what = f"with dims {dims}"
        expect(isinstance(logits, torch.Tensor), f"forward returned {type(logits).__name__} {what}")
        expect(tuple(logits.shape) == (4, len(LABELS)), f"logits {tuple(logits.shape)} for 4 posters, 5 genres {what}")
        expect(logits.is_floating_point() and torch.isfinite(logits).all(), f"logits {logits} {what}")


@check(
    "fusion",
    contract="a head that uses tokens ignores padding: padded positions (mask False) may hold anything, and more "
    "of them may be added, without changing the logits (eval mode)",
    fix="pass ~mask as key_padding_mask to attention and weight pooled means by the mask; never average over "
    "padded positions",
    applies=uses_tokens,
)
def padding_changes_nothing(bench: Workbench) -> None:
    import torch

    module, dims = built(bench)
    clean = logits_of(module, features(dims))
    noisy = logits_of(module, features(dims, extra_padding=3, noise=True))
    gap = (clean - noisy).abs().max().item()
    expect(torch.allclose(clean, noisy, atol=1e-4), f"noise in padded positions moved the logits by up to {gap:.3g}")


@check(
    "fusion",
    contract="a trainable head has parameters, and a loss on its logits sends a finite gradient to every one of "
    "them (train mode)",
    fix="register every layer as a submodule (nn.ModuleList, not a Python list) and use every parameter in "
    "forward; set `trainable = False` for heads that are not trained",
    applies=lambda bench: bench.component.trainable,
)
def gradients_reach_every_parameter(bench: Workbench) -> None:
    import torch

    module, dims = built(bench)
    module.train()
    parameters = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    expect(parameters, "the built module has no trainable parameters (an optimizer would get an empty list)")
    logits = module(features(dims))
    targets = (torch.arange(logits.numel()).reshape(logits.shape) % 3 == 0).float()
    torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).backward()
    missing = [name for name, p in parameters if p.grad is None]
    expect(not missing, f"no gradient reaches {', '.join(missing[:8])}")
    bad = [name for name, p in parameters if not torch.isfinite(p.grad).all()]
    expect(not bad, f"the gradient is not finite for {', '.join(bad[:8])}")
    zero = [name for name, p in parameters if not p.grad.any()]
    expect(not zero, f"the gradient is zero for every element of {', '.join(zero[:8])}")


@check(
    "fusion",
    contract="a trained head is saved as its state_dict and rebuilt by build() when a run is loaded: a head "
    "built again (another seed) and given the first one's state_dict gives the same logits",
    fix="keep everything forward() uses in parameters and registered buffers (register_buffer), not in plain "
    "attributes set at random",
)
def reloads_from_its_state_dict(bench: Workbench) -> None:
    import torch

    first, dims = built(bench, seed=0)
    second, _ = built(bench, seed=1)
    try:
        second.load_state_dict(first.state_dict())
    except RuntimeError as error:
        expect(False, f"load_state_dict failed: {str(error)[:300]}")
    batch = features(dims)
    gap = (logits_of(first, batch) - logits_of(second, batch)).abs().max().item()
    expect(torch.allclose(logits_of(first, batch), logits_of(second, batch), atol=1e-5), f"logits differ by {gap:.3g}")


@check(
    "fusion",
    contract="a poster's logits don't depend on the other posters in its batch (eval mode): each poster alone gives "
    "the logits it gets in a batch of 4",
    fix="never normalise or attend across the batch dimension; use LayerNorm rather than BatchNorm over features",
)
def batch_size_independent(bench: Workbench) -> None:
    import torch

    module, dims = built(bench)
    batch = features(dims)
    together = logits_of(module, batch)
    for row in range(4):
        alone = logits_of(module, {name: value[row : row + 1] for name, value in batch.items()})
        gap = (alone[0] - together[row]).abs().max().item()
        expect(torch.allclose(alone[0], together[row], atol=1e-4), f"poster {row} alone: logits differ by {gap:.3g}")
