"""Shared by the benchmark scripts: where posters are, how results are written."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTERS = Path(os.environ.get("MMGENRE_DATA", ROOT.parent / "shared" / "data" / "posters"))
RESULTS = ROOT / "benchmarks" / "results"


def recipe_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--posters N, --recipe NAME and --data DIR: what every pipeline benchmark runs on."""
    parser.add_argument("--posters", type=int, default=300)
    parser.add_argument("--recipe", default="paper-offline")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    return parser


def recipe_and_posters(args: argparse.Namespace, overrides: list[str]) -> tuple:
    """The recipe (with overrides) and the paths of the first --posters posters of --data."""
    from mmgenre.data.dataset import load_dataset
    from mmgenre.recipe import load_recipe

    recipe = load_recipe(args.recipe, overrides)
    return recipe, [p.path for p in load_dataset(args.data, recipe.labels).posters[: args.posters]]


def machine() -> dict:
    import torch

    info = {"cpu_cores": len(os.sched_getaffinity(0)), "python": platform.python_version(), "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(
        json.dumps({"date": datetime.now().isoformat(timespec="seconds"), "machine": machine(), **data}, indent=2)
    )
    return path


def print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths)))
