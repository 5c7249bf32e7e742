"""Feature-pipeline benchmark: cold and warm cache throughput, and the pipeline against bare component calls.

    python benchmarks/pipeline.py --posters 300            # paper-offline on ../shared/data/posters

Cold: an empty cache, OCR + image encoder + text encoder over N posters. Warm: the same run again (goal:
at least 20x faster). Bare: the same components called directly on the same posters, in the same run, with
the same number of OCR processes and no cache, hashing or bookkeeping (goal: the pipeline reaches at least
90% of their throughput). Writes benchmarks/results/pipeline-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, recipe_and_posters, recipe_arguments, write_result  # noqa: E402

from mmgenre.data.images import load_image  # noqa: E402
from mmgenre.features.cache import FeatureCache  # noqa: E402
from mmgenre.features.ocr_stage import default_workers  # noqa: E402
from mmgenre.features.pipeline import extract_features  # noqa: E402

_engine = None


def _start(engine) -> None:
    global _engine
    engine.setup()
    _engine = engine


def _read(path: Path) -> str:
    return _engine.read(load_image(path)).text


def bare_run(recipe, paths: list[Path], workers: int) -> dict[str, float]:
    """The recipe's components called directly: seconds per stage."""
    import torch

    seconds = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(
        workers, mp_context=get_context("forkserver"), initializer=_start, initargs=(recipe.ocr,)
    ) as pool:
        texts = list(pool.map(_read, paths, chunksize=4))
    seconds["ocr"] = time.perf_counter() - started
    batch = recipe.spec.features.batch_size
    started = time.perf_counter()
    encoder = recipe.image_encoder
    encoder.load("cpu")
    with torch.inference_mode():
        for start in range(0, len(paths), batch):
            encoder.encode(torch.stack([encoder.preprocess(load_image(p)) for p in paths[start : start + batch]]))
    seconds["image_encoder"] = time.perf_counter() - started
    started = time.perf_counter()
    text_encoder = recipe.text_encoder
    text_encoder.load("cpu")
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            text_encoder.encode(texts[start : start + batch])
    seconds["text_encoder"] = time.perf_counter() - started
    return seconds


def main() -> None:
    args = recipe_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    recipe, paths = recipe_and_posters(args, ["features.device=cpu"])
    workers = recipe.spec.features.ocr_workers or default_workers()
    with tempfile.TemporaryDirectory() as folder, FeatureCache(folder) as cache:
        started = time.perf_counter()
        cold = extract_features(recipe, paths, cache, progress=False)
        cold_seconds = time.perf_counter() - started
        started = time.perf_counter()
        warm = extract_features(recipe, paths, cache, progress=False)
        warm_seconds = time.perf_counter() - started
    assert len(warm) == len(cold) and not any(warm.computed.values())
    bare = bare_run(recipe, paths, workers)
    bare_seconds = sum(bare.values())
    n = len(paths)
    result = {
        "recipe": recipe.spec.name,
        "posters": n,
        "ocr_workers": workers,
        "components": {
            k: v.name for k, v in recipe.components().items() if k in ("ocr", "image_encoder", "text_encoder")
        },
        "cold_seconds": cold_seconds,
        "cold_posters_per_second": n / cold_seconds,
        "warm_seconds": warm_seconds,
        "warm_posters_per_second": n / warm_seconds,
        "warm_speedup": cold_seconds / warm_seconds,
        "bare_seconds": bare_seconds,
        "bare_stage_seconds": bare,
        "bare_posters_per_second": n / bare_seconds,
        "pipeline_vs_bare_throughput": bare_seconds / cold_seconds,
        "goals": {"warm_speedup_at_least": 20, "pipeline_vs_bare_at_least": 0.9},
        "command": f"python benchmarks/pipeline.py --posters {args.posters} --recipe {args.recipe}",
    }
    path = write_result("pipeline", result)
    print_table(
        [
            {"run": "cold cache (pipeline)", "seconds": f"{cold_seconds:.1f}", "posters/s": f"{n / cold_seconds:.2f}"},
            {"run": "warm cache (pipeline)", "seconds": f"{warm_seconds:.2f}", "posters/s": f"{n / warm_seconds:.1f}"},
            {"run": "bare component calls", "seconds": f"{bare_seconds:.1f}", "posters/s": f"{n / bare_seconds:.2f}"},
        ]
    )
    print(f"\nwarm / cold speed-up: {result['warm_speedup']:.0f}x (goal >= 20x)")
    print(f"pipeline / bare throughput: {result['pipeline_vs_bare_throughput']:.2f} (goal >= 0.90)")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
