"""Checks for losses: a finite scalar with a gradient, even for confident logits and genres without positives,
and lower for right answers than for wrong ones."""

from __future__ import annotations

from typing import Any

from mmgenre.testing.contract import Violation, check, expect
from mmgenre.testing.workbench import Workbench

GENRES, POSTERS = 5, 6


def criterion(bench: Workbench) -> Any:
    import torch

    positive_rate = torch.tensor([0.5, 0.2, 0.05, 0.0, 1.0])  # a genre no training poster has, one every poster has
    return bench.once("criterion", lambda: bench.make().build(positive_rate))


def targets() -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    targets = (torch.rand(POSTERS, GENRES, generator=generator) < 0.3).float()
    targets[:, 3], targets[:, 4] = 0, 1  # (B, C) with a genre no poster has and one every poster has
    return targets


@check(
    "loss",
    contract="build(positive_rate) returns a module mapping (logits (B, C), targets (B, C) of 0/1 floats) to a "
    "finite scalar (a 0-d tensor) whose gradient reaches the logits, finite and not all zero; a genre with no "
    "positives (rate 0) or only positives (rate 1) is allowed",
    fix="reduce to a scalar (sum or mean), clamp rates and probabilities before dividing or taking logs",
)
def finite_scalar_with_a_gradient(bench: Workbench) -> None:
    import torch

    logits = torch.randn(POSTERS, GENRES, generator=torch.Generator().manual_seed(1), requires_grad=True)
    value = criterion(bench)(logits, targets())
    expect(isinstance(value, torch.Tensor) and value.dim() == 0, f"the loss is {value!r}, not a 0-d tensor")
    expect(torch.isfinite(value), f"the loss is {value.item()}")
    value.backward()
    grad = logits.grad
    if grad is None:
        raise Violation("no gradient reaches the logits")
    expect(torch.isfinite(grad).all() and grad.any(), f"the gradient is {grad}")


@check(
    "loss",
    contract="the loss is lower for right answers than for wrong ones, and stays finite with a finite gradient "
    "for confident logits (|logit| = 50, as a trained head gives)",
    fix="compute from logits with log-sigmoid / BCE-with-logits rather than log(sigmoid(x)), or clamp "
    "probabilities before the log",
)
def rewards_right_answers(bench: Workbench) -> None:
    import torch

    loss, truth = criterion(bench), targets()
    signs = truth * 2 - 1
    for scale in (2.0, 50.0):
        right = (signs * scale).requires_grad_()
        wrong = (-signs * scale).requires_grad_()
        good, bad = loss(right, truth), loss(wrong, truth)
        expect(torch.isfinite(good) and torch.isfinite(bad), f"at |logit| = {scale:g}: right {good}, wrong {bad}")
        expect(good < bad, f"at |logit| = {scale:g} the loss is {good.item():.4g} right and {bad.item():.4g} wrong")
        (good + bad).backward()
        for name, tensor in (("right", right), ("wrong", wrong)):
            expect(
                torch.isfinite(tensor.grad).all(),
                f"at |logit| = {scale:g} the gradient for {name} answers is not finite",
            )
