"""Does re-estimating the genre mix of a new poster collection help? Estimators tried on posters-kaggle.

    .venv/bin/python benchmarks/prior_adaptation.py                      # the bundled model
    .venv/bin/python benchmarks/prior_adaptation.py --run runs/my-run

A model's per-genre scores and thresholds carry its training collection's genre mix (Drama on 54% of the
posters at home, 24% on posters-kaggle). Each estimator guesses a genre's share on the new posters from the
model's scores alone (no labels); scores are then moved by the change in prior odds (Saerens et al. 2002) and
cut at the thresholds tuned on validation. Estimators, per genre (each genre is its own binary problem):

- `none`: the scores as they are;
- `cc`, `pcc`: classify and count / mean probability (no correction for the classifier's errors);
- `bbse`: black-box shift estimation (Lipton et al. 2018): the predicted-positive rate on the new posters,
  corrected by the true and false positive rates measured on validation (the ACC estimator for binary
  problems), clipped to [0.001, 0.999];
- `pacc`: the same with probabilities in place of hard predictions (Bella et al. 2010);
- `em`: Saerens' EM on the scores (the naive method the issue measured: it drifts);
- `oracle`: the true shares on the new posters (an upper bound no method can reach without labels).

Each is applied to the test split too: adaptation must not hurt posters from the home collection.
Writes benchmarks/results/prior-adaptation-*.json and prints macro-F1 per method and collection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, ROOT, print_table, write_result  # noqa: E402

KAGGLE = DEFAULT_POSTERS.parent / "posters-kaggle"
CLIP = (1e-3, 1 - 1e-3)


def split_scores(predictor, data, split: str, registry):
    from mmgenre.evaluation.evaluate import evaluate_run

    evaluation = evaluate_run(predictor, str(data), registry, split=split, progress=False)
    return evaluation.scores, evaluation.targets


def shift(scores: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scores under new priors: odds times the ratio of prior odds, per genre."""
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    odds = p / (1 - p) * (target / (1 - target)) / (source / (1 - source))
    return odds / (1 + odds)


def rates(val_scores: np.ndarray, val_targets: np.ndarray, thresholds: np.ndarray, soft: bool):
    """True and false positive rates per genre on validation (hard at the thresholds, or mean probabilities)."""
    predicted = val_scores if soft else (val_scores >= thresholds).astype(float)
    positives, negatives = val_targets == 1, val_targets == 0
    tpr = (predicted * positives).sum(0) / np.maximum(positives.sum(0), 1)
    fpr = (predicted * negatives).sum(0) / np.maximum(negatives.sum(0), 1)
    return tpr, fpr


def em_priors(scores: np.ndarray, source: np.ndarray, steps: int = 100) -> np.ndarray:
    target = source.copy()
    for _ in range(steps):
        target = np.clip(shift(scores, source, target).mean(0), *CLIP)
    return target


def estimates(method, scores, targets, val, thresholds, source):
    val_scores, val_targets = val
    if method == "cc":
        return (scores >= thresholds).mean(0)
    if method == "pcc":
        return scores.mean(0)
    if method in ("bbse", "pacc"):
        soft = method == "pacc"
        tpr, fpr = rates(val_scores, val_targets, thresholds, soft)
        observed = scores.mean(0) if soft else (scores >= thresholds).mean(0)
        return (observed - fpr) / np.maximum(tpr - fpr, 1e-3)
    if method == "em":
        return em_priors(scores, source)
    if method == "oracle":
        return targets.mean(0)
    raise ValueError(method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=str(ROOT / "plugins" / "mmgenre_models" / "offline_best"))
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--new", type=Path, default=KAGGLE, help="the new collection")
    args = parser.parse_args()

    from mmgenre.evaluation.metrics import evaluate_scores
    from mmgenre.features.store_url import open_store
    from mmgenre.predictor import Predictor
    from mmgenre.registry import Registry

    registry = Registry.from_entry_points()
    with Predictor.load(args.run, store=open_store(None, registry), registry=registry, ocr_workers=2) as predictor:
        thresholds, labels = np.asarray(predictor.trained.thresholds), predictor.labels
        val = split_scores(predictor, args.data, "val", registry)
        collections = {"test": split_scores(predictor, args.data, "test", registry),
                       "posters-kaggle": split_scores(predictor, args.new, "all", registry)}  # fmt: skip
    counts = np.asarray(predictor.trained.info.train_genre_counts, dtype=float)
    source = np.clip(counts / len(predictor.trained.info.splits["train"]), *CLIP)
    rows, details = [], {}
    for method in ("none", "cc", "pcc", "bbse", "pacc", "em", "oracle"):
        row = {"method": method}
        for name, (scores, targets) in collections.items():
            if method == "none":
                adapted, priors = scores, source
            else:
                priors = np.clip(estimates(method, scores, targets, val, thresholds, source), *CLIP)
                adapted = shift(scores, source, priors)
            metrics = evaluate_scores(targets, adapted, thresholds, labels)
            row[f"{name} macro-F1"] = round(metrics["macro_f1"], 4)
            row[f"{name} prior error"] = round(float(np.abs(priors - targets.mean(0)).mean()), 4)
            details.setdefault(method, {})[name] = {
                "macro_f1": metrics["macro_f1"],
                "micro_f1": metrics["micro_f1"],
                "priors": dict(zip(labels, map(float, priors))),
                "true_shares": dict(zip(labels, map(float, targets.mean(0)))),
            }
        rows.append(row)
    print_table(rows)
    path = write_result(
        "prior-adaptation",
        {"run": args.run, "table": rows, "details": details,
         "command": "python benchmarks/prior_adaptation.py" + (f" --run {args.run}" if "--run" in sys.argv else "")},
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
