"""Encoders that learn, measured: train finetune-offline with N trainable image blocks and M text layers (and the
frozen bundled recipe as the baseline) on the full poster set; validation and test macro-F1, seconds per epoch
(from the time each epoch's log line arrives), the time before the first epoch (prefix features) and the cache the
prefixes take. One JSON per invocation in benchmarks/results/finetune-*.json.

    nice -n 19 .venv/bin/python benchmarks/finetune.py --setting 1:0 --setting 2:1 --setting frozen
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_POSTERS, ROOT, write_result

MMGENRE = str(Path(sys.executable).with_name("mmgenre"))
BASELINE = "plugins/mmgenre_models/offline_best/recipe.yaml"
EPOCH_DONE = re.compile(r"INFO: epoch \d+: loss ")  # the line each epoch ends with (after validation)


def command(setting: str, args: argparse.Namespace) -> tuple[list[str], Path]:
    """The train command of a setting ('frozen', or 'N:M' trainable image blocks : text layers) and its run folder."""
    if setting == "frozen":
        out = args.runs / "finetune-frozen"
        return [MMGENRE, "train", BASELINE, "--data", str(args.data), "--out", str(out), "--overwrite"], out
    blocks, layers = (int(part) for part in setting.split(":"))
    out = args.runs / f"finetune-i{blocks}-t{layers}"
    sets = [f"image_encoder.params.trainable_blocks={blocks}", f"text_encoder.params.trainable_layers={layers}"]
    sets += args.set
    cmd = [MMGENRE, "train", args.recipe, "--data", str(args.data), "--out", str(out), "--overwrite"]
    return cmd + [arg for s in sets for arg in ("--set", s)], out


def timed_run(cmd: list[str]) -> tuple[float, float | None, list[float]]:
    """Run `cmd`, echoing its log; (total seconds, seconds until training started, each epoch's seconds)."""
    start = time.perf_counter()
    marks: list[float] = []
    training = None
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT) as child:
        assert child.stderr is not None
        for line in child.stderr:
            sys.stderr.write(line)
            now = time.perf_counter() - start
            if "INFO: training " in line and " on " in line:
                training = now
            elif EPOCH_DONE.match(line):
                marks.append(now)
    if child.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed with exit code {child.returncode}")
    epochs = [b - a for a, b in zip([training or 0.0, *marks], marks)]
    return time.perf_counter() - start, training, epochs


def cache_of(run: Path) -> list[dict]:
    """Entries and size of the encoder namespaces the run's recipe reads from the default feature cache."""
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.namespaces import feature_spaces
    from mmgenre.recipe import load_recipe

    spaces = {s.name for s in feature_spaces(load_recipe(str(run / "recipe.yaml"))).all() if s.kind != "ocr"}
    with FeatureCache(read_only=True) as cache:
        return [
            {"namespace": i.namespace, "entries": i.entries, "mb": round(i.bytes / 1e6, 1)}
            for i in cache.info()
            if i.namespace in spaces
        ]


def measure(setting: str, args: argparse.Namespace) -> dict:
    cmd, out = command(setting, args)
    total, training, epochs = timed_run(cmd)
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((out / "run.json").read_text())
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    split = {s: {k: metrics[s][k] for k in ("macro_f1", "micro_f1", "map")} for s in ("val", "test")}
    return {
        "setting": setting,
        "command": shlex.join(cmd),
        "run": str(out),
        "best_epoch": info["best_epoch"],
        "epochs": len(history),
        **split,
        "val_macro_f1_per_epoch": [round(row["val_macro_f1_tuned"], 4) for row in history],
        "seconds_total": round(total, 1),
        "seconds_before_training": round(training, 1) if training is not None else None,
        "seconds_per_epoch": [round(s, 1) for s in epochs],
        "seconds_per_epoch_median": round(sorted(epochs)[len(epochs) // 2], 1) if epochs else None,
        "cache": cache_of(out),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],  # other work on the cores slows epochs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--setting", action="append", required=True, help="'N:M' (image blocks:text layers) or 'frozen'"
    )
    parser.add_argument("--recipe", default="finetune-offline")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--set", action="append", default=[], help="another recipe override for the N:M settings")
    parser.add_argument("--wait-while", type=Path, help="before each setting, wait while this file exists")
    args = parser.parse_args()
    results: list[dict] = []
    path = None
    for setting in args.setting:
        while args.wait_while and args.wait_while.exists():
            time.sleep(60)
        results.append(measure(setting, args))
        print(json.dumps(results[-1]), flush=True)
        data = {"command": shlex.join(sys.argv), "results": results}
        if path is None:
            path = write_result("finetune", data)
        else:  # the same file, rewritten after each setting: a stopped run keeps what it measured
            path.write_text(json.dumps({**json.loads(path.read_text()), **data}, indent=2))
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
