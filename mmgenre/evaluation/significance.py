"""Paired bootstrap over test posters: is run A's macro-F1 really above run B's, and by how much?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def weighted_macro_f1(weights: np.ndarray, targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Macro-F1 for each row of resampling weights (R, N), computed from weighted counts: (R,)."""
    targets, predicted = targets.astype(np.float64), predicted.astype(np.float64)
    tp = weights @ (targets * predicted)  # (R, C)
    fp = weights @ ((1 - targets) * predicted)
    fn = weights @ (targets * (1 - predicted))
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


@dataclass(frozen=True)
class Comparison:
    difference: float  # macro-F1 of A minus B (mean over seeds)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided: how often the resampled difference lands on the other side of zero
    resamples: int

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.difference:+.4f} (95% CI {self.ci_low:+.4f} to {self.ci_high:+.4f}, {format_p(self.p_value)})"


def format_p(p_value: float) -> str:
    """`p = 0.106`, or `p < 0.001` where the bootstrap can't resolve smaller values."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def paired_bootstrap(
    targets: np.ndarray,
    predictions_a: list[np.ndarray],
    predictions_b: list[np.ndarray],
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Resample the same posters for both sides; each side's macro-F1 is averaged over its seeds."""
    count = len(targets)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(count, np.full(count, 1 / count), size=resamples).astype(np.float64)  # (R, N)

    def side(predictions: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        return np.mean([weighted_macro_f1(w, targets, p) for p in predictions], axis=0)

    ones = np.ones((1, count))
    observed = float(side(predictions_a, ones)[0] - side(predictions_b, ones)[0])
    differences = side(predictions_a, weights) - side(predictions_b, weights)
    low, high = np.percentile(differences, [2.5, 97.5])
    tail = np.mean(differences <= 0) if observed > 0 else np.mean(differences >= 0)
    return Comparison(observed, float(low), float(high), float(min(1.0, 2 * tail)), resamples)
