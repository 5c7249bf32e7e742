"""The loss components: typed params, and a `build` that imports torch only when training starts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mmgenre.api import Loss, Params


class AslParams(Params):
    gamma_pos: float = Field(0.0, ge=0, description="focusing exponent on positive labels (gamma+)")
    gamma_neg: float = Field(4.0, ge=0, description="focusing exponent on negative labels (gamma-)")
    clip: float = Field(0.05, ge=0, lt=1, description="probability margin m shifted off easy negatives")
    eps: float = Field(1e-8, gt=0, description="log clamp")
    reduction: Literal["sum", "mean"] = Field("sum", description="'sum' as in the reference code")


class AsymmetricLoss(Loss):
    """Asymmetric loss (Ridnik et al., ICCV 2021): separate focusing for positives and negatives."""

    name = "asl"
    Params = AslParams

    def build(self, positive_rate):
        from mmgenre_losses.functional import AsymmetricLossModule

        p = self.params
        return AsymmetricLossModule(p.gamma_pos, p.gamma_neg, p.clip, p.eps, p.reduction)


class BceParams(Params):
    pos_weight: Literal["none", "auto"] | list[float] = Field(
        "none", description="'auto': negatives/positives per genre in the training split; or one per genre"
    )
    max_pos_weight: float = Field(10.0, gt=0, description="cap for 'auto' weights of rare genres")


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on logits, with optional per-genre positive weights."""

    name = "bce"
    Params = BceParams

    def build(self, positive_rate):
        import torch

        p = self.params
        weight = None
        if p.pos_weight == "auto":
            rate = positive_rate.clamp(min=1e-6)
            weight = ((1 - rate) / rate).clamp(max=p.max_pos_weight)
        elif isinstance(p.pos_weight, list):
            if len(p.pos_weight) != len(positive_rate):
                from mmgenre.api import RecipeError

                raise RecipeError(
                    f"loss.params.pos_weight has {len(p.pos_weight)} values for {len(positive_rate)} genres"
                )
            weight = torch.tensor(p.pos_weight, dtype=torch.float32)
        return torch.nn.BCEWithLogitsLoss(pos_weight=weight)


class FocalParams(Params):
    gamma: float = Field(2.0, ge=0)
    alpha: float = Field(0.25, ge=-1, le=1, description="weight of positives; -1 disables weighting")


class FocalLoss(Loss):
    """Sigmoid focal loss (Lin et al. 2017), mean over genres and posters."""

    name = "focal"
    Params = FocalParams

    def build(self, positive_rate):
        from mmgenre_losses.functional import FocalLossModule

        return FocalLossModule(self.params.gamma, self.params.alpha)
