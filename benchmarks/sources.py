"""How the main table's models carry across poster collections: the source's test split, the same posters
downscaled to 182 px (the second collection's width), and the second collection itself (posters-kaggle).

    python benchmarks/sources.py runs/ablate-main [--kaggle-label posters-kaggle]

Reads each run's metrics.json (test), eval-test-w182.json and eval-<label>-all.json (written by
`mmgenre eval`, see benchmarks/paper_questions.sh), and prints mean ± std over seeds per variant.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

METRICS = ("macro_f1", "micro_f1", "map")


def settings(path: Path) -> dict[str, dict]:
    """The three evaluations of one run folder."""
    return {
        "source test": json.loads((path / "metrics.json").read_text())["test"],
        "source test at 182 px": json.loads((path / "eval-test-w182.json").read_text()),
        "second collection": json.loads((path / f"eval-{ARGS.kaggle_label}-all.json").read_text()),
    }


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    runs = sorted(p for p in ARGS.ablation.iterdir() if re.search(r"-seed\d+$", p.name))
    grouped: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    genres: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        variant = re.sub(r"-seed\d+$", "", run.name)
        for where, metrics in settings(run).items():
            for metric in METRICS:
                grouped[variant][where][metric].append(metrics[metric])
            grouped[variant][where]["every genre"].append(metrics["references"]["every genre"]["macro_f1"])
            if variant == ARGS.paper:
                for genre, values in metrics["tuned"]["per_genre"].items():
                    genres[f"{where}"][genre].append(values["f1"])
    header = (
        "| model | "
        + " | ".join(f"macro-F1: {w}" for w in grouped[next(iter(grouped))])
        + " | mAP: second collection |"
    )
    lines = [header, "|" + " --- |" * (len(grouped[next(iter(grouped))]) + 2)]
    for variant, by_where in grouped.items():
        cells = [mean_std(by_where[w]["macro_f1"]) for w in by_where]
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {mean_std(by_where['second collection']['map'])} |")
    first = next(iter(grouped.values()))
    lines.append(
        "| constant guess: every genre | "
        + " | ".join(f"{np.mean(first[w]['every genre']):.3f}" for w in first)
        + " | |"
    )
    per_genre = ["", f"Per-genre F1 of {ARGS.paper} (mean over seeds):", "", "| genre | " + " | ".join(genres) + " |"]
    per_genre.append("|" + " --- |" * (len(genres) + 1))
    for genre in next(iter(genres.values())):
        per_genre.append(f"| {genre} | " + " | ".join(f"{np.mean(genres[w][genre]):.3f}" for w in genres) + " |")
    table = "\n".join(lines + per_genre)
    print(table)
    summary = {v: {w: {m: float(np.mean(x)) for m, x in d.items()} for w, d in by.items()} for v, by in grouped.items()}
    print("written to", write_result("sources", {"ablation": str(ARGS.ablation), "variants": summary, "table": table}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ablation", type=Path)
    parser.add_argument("--kaggle-label", default="posters-kaggle")
    parser.add_argument(
        "--paper", default="fusion-cross-attn-smsam_loss-asl", help="the variant to break down by genre"
    )
    ARGS = parser.parse_args()
    main()
