"""Shared by the benchmark scripts: where posters are, how results are written."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTERS = Path(os.environ.get("MMGENRE_DATA", ROOT.parent / "shared" / "data" / "posters"))
RESULTS = ROOT / "benchmarks" / "results"


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
