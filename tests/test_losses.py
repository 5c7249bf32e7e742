"""Losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import REGISTRY


def build(name: str, rate=None, **params):
    loss = REGISTRY.create("loss", name, params)
    return loss.build(rate if rate is not None else torch.full((2,), 0.25))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_asl_matches_a_hand_computation():
    logits, targets = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    loss = build("asl", gamma_pos=1.0, gamma_neg=2.0, clip=0.1, reduction="sum")(logits, targets)
    p_pos, p_neg = sigmoid(2.0), min(1 - sigmoid(-1.0) + 0.1, 1.0)
    expected = -((1 - p_pos) ** 1 * math.log(p_pos) + (1 - p_neg) ** 2 * math.log(p_neg))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_asl_clip_zeroes_very_easy_negatives():
    loss = build("asl", gamma_pos=0.0, gamma_neg=4.0, clip=0.05)(torch.tensor([[-5.0]]), torch.tensor([[0.0]]))
    assert loss.item() == pytest.approx(0.0, abs=1e-7)  # p = 0.0067 < clip: shifted probability is 1


def test_asl_without_focusing_or_clip_is_bce():
    torch.manual_seed(0)
    logits, targets = torch.randn(8, 5), (torch.rand(8, 5) > 0.6).float()
    summed = build("asl", gamma_pos=0.0, gamma_neg=0.0, clip=0.0, reduction="sum")(logits, targets)
    averaged = build("asl", gamma_pos=0.0, gamma_neg=0.0, clip=0.0, reduction="mean")(logits, targets)
    assert summed.item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets, reduction="sum").item(), rel=1e-5
    )
    assert averaged.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, targets).item(), rel=1e-5)


def test_asl_down_weights_easy_negatives_more_than_positives():
    asl = build("asl", gamma_pos=0.0, gamma_neg=4.0, clip=0.0)
    easy_negative = asl(torch.tensor([[-1.0]]), torch.tensor([[0.0]]))
    same_positive = asl(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    assert easy_negative < same_positive / 10


def test_bce_auto_pos_weight_uses_training_frequencies():
    bce = build("bce", rate=torch.tensor([0.5, 0.1]), pos_weight="auto")
    assert torch.allclose(bce.pos_weight, torch.tensor([1.0, 9.0]))
    logits, targets = torch.zeros(1, 2), torch.ones(1, 2)
    assert bce(logits, targets).item() == pytest.approx((1 + 9) * math.log(2) / 2, rel=1e-5)


def test_focal_matches_hand_computation():
    focal = build("focal", gamma=2.0, alpha=0.25)
    p = sigmoid(1.0)
    expected = 0.25 * (1 - p) ** 2 * -math.log(p)
    assert focal(torch.tensor([[1.0]]), torch.tensor([[1.0]])).item() == pytest.approx(expected, rel=1e-5)


def test_losses_have_gradients():
    logits = torch.randn(4, 3, requires_grad=True)
    for name in ("asl", "bce", "focal"):
        logits.grad = None
        build(name, rate=torch.full((3,), 0.3))(logits, (torch.rand(4, 3) > 0.5).float()).backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0, name
