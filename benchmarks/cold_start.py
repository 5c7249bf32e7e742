"""Cold start of a one-poster `mmgenre predict`: a new process and an empty feature cache, torch vs onnx runtime.

    python benchmarks/cold_start.py [--run runs/paper-offline] [--repeats 5]

Each repeat runs, for each runtime in turn, `mmgenre predict MODEL POSTER --json --cache-dir EMPTY` in a new
process (the wall time is the headline), then the same steps in a child process that times them: import,
load (the model files), OCR, encode (the encoders, loaded on first use) and head. Without --run, paper-offline
(EfficientNet-Lite2, MiniLM, RapidOCR, the paper's head) is trained on 48 posters into a temporary folder first
(about 2 minutes: the head's weights don't matter here, its shape does); the run is exported to ONNX either way.
Writes benchmarks/results/cold_start.json (median of the repeats) and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, RESULTS, machine, print_table  # noqa: E402

MMGENRE = str(Path(sys.executable).with_name("mmgenre"))
ENV = {**os.environ, "MMGENRE_LOG": "WARNING", "HF_HUB_OFFLINE": "1"}
CHILD = """
import json, os, sys, time
started = time.perf_counter()
runtime, model, poster, cache = sys.argv[1:5]
from mmgenre.cli.runtime import load_predictor
from mmgenre.data.skips import SkipLog
from mmgenre.features.store_url import open_store
imported = time.perf_counter()
with open_store(cache, None) as store, load_predictor(runtime, model, device="cpu", store=store) as predictor:
    loaded = time.perf_counter()
    prediction = predictor.predict([poster], SkipLog())[0]
    done = time.perf_counter()
    ocr = sum(predictor.executor.latencies)
print(json.dumps({"import": imported - started, "load": loaded - imported, "ocr": ocr,
    "encode": prediction.seconds["features"] - ocr, "head": prediction.seconds["head"], "total": done - started,
    "torch_imported": "torch" in sys.modules, "cores": len(os.sched_getaffinity(0))}))
"""


def run(command: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return result


def poster_rows(data: Path) -> list[dict]:
    """labels.csv rows whose genres include a default genre, with absolute file paths."""
    from mmgenre import DEFAULT_GENRES

    with open(data / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if set(row["genres"].split("|")) & set(DEFAULT_GENRES)]
    return [{**row, "file": str(data / row["file"])} for row in rows]


def small_run(rows: list[dict], work: Path) -> Path:
    """paper-offline trained on 48 posters (two epochs) into `work`."""
    folder = work / "posters"
    folder.mkdir()
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:48])
    out, cache = work / "run", work / "cache"
    settings = ["--set", "train.max_epochs=2", "--set", "train.batch_size=16"]
    run(
        [
            MMGENRE,
            "train",
            "paper-offline",
            "--data",
            str(folder),
            "--cache-dir",
            str(cache),
            "--out",
            str(out),
            *settings,
        ]
    )
    return out


def recipe_name(run_folder: Path) -> str:
    import yaml

    return str(yaml.safe_load((run_folder / "recipe.yaml").read_text(encoding="utf-8")).get("name", "?"))


def one_repeat(models: dict[str, Path], poster: Path, work: Path) -> dict[str, dict]:
    """Each runtime once end to end (the CLI) and once step by step (the child), each with an empty cache."""
    timings = {}
    for runtime, model in models.items():
        cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
        started = time.perf_counter()
        run([MMGENRE, "predict", str(model), str(poster), "--json", "--runtime", runtime, "--cache-dir", str(cache)])
        wall = time.perf_counter() - started
        cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
        child = run([sys.executable, "-c", CHILD, runtime, str(model), str(poster), str(cache)])
        timings[runtime] = {"cli_seconds": wall, **json.loads(child.stdout.strip().splitlines()[-1])}
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run [default: paper-offline on 48 posters, trained now]")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))  # now: importing torch (machine()) may pin this thread to one core
    with tempfile.TemporaryDirectory(prefix="mmgenre-cold-") as tmp:
        work = Path(tmp)
        rows = poster_rows(args.data)
        trained = trained_path = args.run or small_run(rows, work)
        exported = work / "onnx"
        run([MMGENRE, "export", str(trained), "--format", "onnx", "--out", str(exported)])
        poster = Path(rows[200]["file"])  # not among the 48 the small run trained on
        load_before = os.getloadavg()[0]
        repeats = [one_repeat({"torch": trained, "onnx": exported}, poster, work) for _ in range(args.repeats)]
        load = [round(load_before, 1), round(os.getloadavg()[0], 1)]  # other work on the machine skews the times
    summary = {}
    for runtime in ("torch", "onnx"):
        keys = [k for k in repeats[0][runtime] if k not in ("torch_imported", "cores")]
        summary[runtime] = {k: round(statistics.median(r[runtime][k] for r in repeats), 3) for k in keys}
        summary[runtime]["torch_imported"] = repeats[0][runtime]["torch_imported"]
        summary[runtime]["cores"] = sorted({r[runtime]["cores"] for r in repeats})  # the measuring processes' own
    speedup = summary["torch"]["cli_seconds"] / summary["onnx"]["cli_seconds"]
    result = {
        "what": "one-poster `mmgenre predict` in a new process with an empty feature cache (median of repeats)",
        "command": "python benchmarks/cold_start.py" + (f" --run {args.run}" if args.run else ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {**machine(), "cpu_cores": cores},
        "recipe": recipe_name(trained_path),
        "run": "paper-offline trained on 48 posters for 2 epochs (small_run)" if not args.run else str(args.run),
        "repeats": args.repeats,
        "load_average_before_after": load,
        "runtimes": summary,
        "speedup_cli": round(speedup, 2),
        "goal": "onnx <= 3 s on 2 cores and >= 2x faster than torch",
        "raw": repeats,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table([{"runtime": r, **{k: v for k, v in summary[r].items()}} for r in summary])
    print(f"speed-up (CLI wall time): {speedup:.2f}x; written to {RESULTS / 'cold_start.json'}")


if __name__ == "__main__":
    main()
