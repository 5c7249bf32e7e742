"""How runs carry to smaller posters and to another collection: macro-F1 on validation, on validation
downscaled, on the test split and on posters-kaggle, per run and per variant (mean and std over seeds).

    mmgenre ablate offline-best --data ../shared/data/posters --seeds 0,1,2 --out runs/ablate-views \\
        --variant 'train.downscaled_views=[]' --variant 'train.downscaled_views=[182]'
    .venv/bin/python benchmarks/carry_over.py runs/ablate-views/*-seed*

Choose on the validation columns only (`val` and `val@WIDTH`, the home posters downscaled as small posters
arrive); `test` and `posters-kaggle` are reported, never chosen on. Runs are grouped into variants by their
folder name without the `-seedN` ending. Writes benchmarks/results/carry-over-*.json.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, print_table, write_result  # noqa: E402

KAGGLE = DEFAULT_POSTERS.parent / "posters-kaggle"


def run_scores(run: Path, registry, store, width: int) -> dict[str, float]:
    from mmgenre.evaluation.evaluate import evaluate_run
    from mmgenre.predictor import Predictor

    columns = {"val": (DEFAULT_POSTERS, "val", None), f"val@{width}": (DEFAULT_POSTERS, "val", width),
               "test": (DEFAULT_POSTERS, "test", None), "posters-kaggle": (KAGGLE, "all", None)}  # fmt: skip
    scores = {}
    with Predictor.load(run, store=store, registry=registry, ocr_workers=2) as predictor:
        for column, (data, split, resize_to) in columns.items():
            evaluation = evaluate_run(predictor, str(data), registry, split=split, resize_to=resize_to, progress=False)
            scores[column] = round(float(evaluation.metrics["macro_f1"]), 4)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--width", type=int, default=182, help="validation posters downscaled to this width")
    args = parser.parse_args()

    from mmgenre.features.store_url import open_store
    from mmgenre.registry import Registry

    registry = Registry.from_entry_points()
    store = open_store(None, registry)
    per_run = {str(run): run_scores(run, registry, store, args.width) for run in args.runs}
    variants: dict[str, list[dict]] = {}
    for run, scores in per_run.items():
        variants.setdefault(re.sub(r"-seed\d+$", "", Path(run).name), []).append(scores)
    rows = []
    for variant, runs in variants.items():
        row: dict = {"variant": variant, "seeds": len(runs)}
        for column in runs[0]:
            values = np.array([r[column] for r in runs])
            row[column] = f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0:.4f}"
        rows.append(row)
    print_table(rows)
    path = write_result(
        "carry-over",
        {"width": args.width, "runs": per_run, "variants": rows,
         "command": "python benchmarks/carry_over.py " + " ".join(map(str, args.runs))},
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
