"""`predict`: genres with scores for poster files, running OCR and encoders as needed (through the cache)."""

from __future__ import annotations

from pathlib import Path

from mmgenre.data.skips import SkipLog
from mmgenre.features.cache import FeatureCache
from mmgenre.features.pipeline import extract_features
from mmgenre.training.model_io import load_trained
from mmgenre.training.scoring import predict_scores


def predict_files(
    run_path: str | Path, files: list[Path], cache: FeatureCache, progress: bool | None = None
) -> tuple[list[dict], SkipLog]:
    """One result per readable file: genres over their tuned thresholds (or the top one), all scores."""
    trained = load_trained(str(run_path))
    skips = SkipLog()
    features = extract_features(trained.recipe, files, cache, skips=skips, progress=progress)
    scores = predict_scores(trained.model, features)
    labels, thresholds = trained.info.labels, trained.thresholds
    results = []
    for position, row in enumerate(features.rows):
        poster_scores = scores[position]
        chosen = [label for label, s, t in zip(labels, poster_scores, thresholds) if s >= t]
        if not chosen:
            chosen = [labels[int(poster_scores.argmax())]]
        ranked = sorted(zip(labels, poster_scores.tolist()), key=lambda pair: -pair[1])
        results.append(
            {
                "file": str(files[row]),
                "genres": chosen,
                "scores": {label: round(score, 4) for label, score in ranked},
                "ocr_text": features.texts[position] if features.texts is not None else None,
            }
        )
    return results, skips
