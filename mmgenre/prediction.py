"""What a predictor answers per poster, whichever runtime (torch or ONNX) computed the scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mmgenre.evaluation.metrics import predicted_sets
from mmgenre.features.featureset import FeatureSet


@dataclass
class Prediction:
    """One poster's genres (over their tuned thresholds, or the top one), every score, and its OCR text."""

    file: str  # the path, or an upload's file name
    genres: list[str]
    scores: dict[str, float]  # best first
    ocr_text: str | None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def make_predictions(
    items: list, features: FeatureSet, scores: np.ndarray, labels: list[str], thresholds: np.ndarray, seconds: dict
) -> list[Prediction]:
    """One Prediction per row of `features` (`scores` (N, C)), named after its item (a path or an upload)."""
    chosen = predicted_sets(scores, thresholds)
    share = 1 / max(len(features), 1)
    per_poster = {k: round(v * share, 4) for k, v in seconds.items()}
    results = []
    for position, row in enumerate(features.rows):
        item = items[row]
        ranked = sorted(zip(labels, scores[position].tolist()), key=lambda pair: -pair[1])
        results.append(
            Prediction(
                file=item[0] if isinstance(item, tuple) else str(item),
                genres=[label for label, keep in zip(labels, chosen[position]) if keep],
                scores={label: round(score, 4) for label, score in ranked},
                ocr_text=features.texts[position] if features.texts is not None else None,
                seconds=dict(per_poster),
            )
        )
    return results
