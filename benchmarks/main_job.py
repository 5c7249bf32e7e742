"""The main job, profiled stage by stage with an empty feature cache.

    python benchmarks/main_job.py                      # all posters: what ./scripts/main.sh does, cold
    python benchmarks/main_job.py --posters 400        # the first 400 posters (a quick profile)
    python benchmarks/main_job.py --posters 400 --set features.batch_size=64

Runs the commands of scripts/main.sh (train, eval on the test split, report) as new processes with a new,
empty cache, reads the stage lines they log ("<stage>: done, N posters in S s") and writes
benchmarks/results/main-job-*.json and a table: seconds and share of the wall time per stage. What no stage
line covers (start-up, loading models, planning,
thresholds, metrics) is "other".
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, print_table, write_result  # noqa: E402

STAGE_LINE = re.compile(r"^INFO: (?P<stage>.+?): done, (?P<count>[\d,]+) (?P<unit>\w+?)s? in (?P<seconds>[\d.]+) s")
TRAINING_LINE = re.compile(r"^INFO: training: done, (?P<epochs>\d+) epochs in (?P<seconds>[\d.]+) s")
MMGENRE = str(Path(sys.executable).with_name("mmgenre"))


def run_command(name: str, arguments: list[str], env: dict) -> dict:
    """One command in a new process: its wall seconds and the stages it logged."""
    started = time.perf_counter()
    done = subprocess.run([MMGENRE, *arguments], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    stages = []
    for line in done.stderr.splitlines():
        if match := TRAINING_LINE.match(line):
            stages.append({"stage": "training", "items": int(match["epochs"]), "unit": "epoch",
                           "seconds": float(match["seconds"])})  # fmt: skip
        elif match := STAGE_LINE.match(line):
            stages.append({"stage": match["stage"], "items": int(match["count"].replace(",", "")),
                           "unit": match["unit"], "seconds": float(match["seconds"])})  # fmt: skip
    return {"command": name, "wall_seconds": round(wall, 1), "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posters", type=int, default=None, help="only the first N posters (default: all)")
    parser.add_argument("--recipe", default="paper-offline")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a recipe override")
    parser.add_argument("--label", default="", help="a name for this configuration in the results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mmgenre-main-job-") as scratch:
        env = {**os.environ, "MMGENRE_CACHE": f"{scratch}/cache", "HF_HUB_OFFLINE": "1"}
        env.pop("MMGENRE_STORE", None)
        run = f"{scratch}/run"
        overrides = [part for value in args.set for part in ("--set", value)]
        limit = ["--limit", str(args.posters)] if args.posters else []
        commands = [
            ("train", ["train", args.recipe, "--data", str(args.data), "--out", run, *limit, *overrides]),
            ("eval", ["eval", run, "--data", str(args.data), "--split", "test"]),
            ("report", ["report", run, "--out", f"{run}/report"]),
        ]
        results = [run_command(name, arguments, env) for name, arguments in commands]

    wall = sum(r["wall_seconds"] for r in results)
    rows = []
    for result in results:
        for stage in result["stages"]:
            rows.append({"command": result["command"], "stage": stage["stage"], "items": stage["items"],
                         "seconds": stage["seconds"], "share": f"{stage['seconds'] / wall:.0%}",
                         "per_second": round(stage["items"] / max(stage["seconds"], 1e-9), 2)})  # fmt: skip
        other = result["wall_seconds"] - sum(s["seconds"] for s in result["stages"])
        rows.append({"command": result["command"], "stage": "other", "items": "", "seconds": round(other, 1),
                     "share": f"{other / wall:.0%}", "per_second": ""})  # fmt: skip
    print_table(rows)
    print(f"total: {wall / 60:.1f} min")
    command = "python benchmarks/main_job.py" + "".join(
        f" {flag} {value}" for flag, value in (("--posters", args.posters), ("--recipe", args.recipe)) if value
    ) + "".join(f" --set {value}" for value in args.set)  # fmt: skip
    path = write_result(
        "main-job",
        {
            "label": args.label,
            "recipe": args.recipe,
            "posters": args.posters or "all",
            "overrides": args.set,
            "wall_seconds": round(wall, 1),
            "commands": results,
            "stage_table": rows,
            "command": command,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
