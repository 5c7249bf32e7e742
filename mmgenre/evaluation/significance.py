"""Paired bootstrap over test posters: is run A's macro-F1 really above run B's, and by how much?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def weighted_f1(weights: np.ndarray, targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each genre's F1 for each row of resampling weights (R, N), computed from weighted counts: (R, C)."""
    targets, predicted = targets.astype(np.float64), predicted.astype(np.float64)
    tp = weights @ (targets * predicted)  # (R, C)
    fp = weights @ ((1 - targets) * predicted)
    fn = weights @ (targets * (1 - predicted))
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def weighted_macro_f1(weights: np.ndarray, targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Macro-F1 for each row of resampling weights (R, N): (R,)."""
    return weighted_f1(weights, targets, predicted).mean(axis=1)


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


def resampling_weights(count: int, resamples: int, seed: int) -> np.ndarray:
    """(R, N) multinomial counts: how often each poster is drawn in each resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(count, np.full(count, 1 / count), size=resamples).astype(np.float64)


def two_sided_p(observed: float, differences: np.ndarray) -> float:
    """How often the resampled difference lands on the other side of zero, doubled (at most 1)."""
    tail = float(np.mean(differences <= 0) if observed > 0 else np.mean(differences >= 0))
    return min(1.0, 2 * tail)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over the comparisons given)."""
    order = np.argsort(p_values)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def per_genre_bootstrap(
    targets: np.ndarray,
    predictions_a: list[np.ndarray],
    predictions_b: list[np.ndarray],
    labels: list[str],
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict]:
    """Per-genre F1 of A minus B (each averaged over its seeds), paired over the same posters, with a 95% interval,
    a p-value and its Holm adjustment for the number of genres compared."""
    weights = resampling_weights(len(targets), resamples, seed)
    ones = np.ones((1, len(targets)))

    def side(predictions: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        return np.mean([weighted_f1(w, targets, p) for p in predictions], axis=0)  # (R, C)

    f1_a, f1_b = side(predictions_a, ones)[0], side(predictions_b, ones)[0]
    differences = side(predictions_a, weights) - side(predictions_b, weights)  # (R, C)
    low, high = np.percentile(differences, [2.5, 97.5], axis=0)
    p_values = [two_sided_p(float(f1_a[c] - f1_b[c]), differences[:, c]) for c in range(len(labels))]
    return [
        {
            "genre": label,
            "f1_a": float(f1_a[c]),
            "f1_b": float(f1_b[c]),
            "difference": float(f1_a[c] - f1_b[c]),
            "ci_low": float(low[c]),
            "ci_high": float(high[c]),
            "p_value": p_values[c],
            "p_holm": adjusted,
        }
        for c, (label, adjusted) in enumerate(zip(labels, holm(p_values)))
    ]


def paired_bootstrap(
    targets: np.ndarray,
    predictions_a: list[np.ndarray],
    predictions_b: list[np.ndarray],
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Resample the same posters for both sides; each side's macro-F1 is averaged over its seeds."""
    count = len(targets)
    weights = resampling_weights(count, resamples, seed)  # (R, N)

    def side(predictions: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        return np.mean([weighted_macro_f1(w, targets, p) for p in predictions], axis=0)

    ones = np.ones((1, count))
    observed = float(side(predictions_a, ones)[0] - side(predictions_b, ones)[0])
    differences = side(predictions_a, weights) - side(predictions_b, weights)
    low, high = np.percentile(differences, [2.5, 97.5])
    return Comparison(observed, float(low), float(high), two_sided_p(observed, differences), resamples)
