"""The whole feature pipeline of a recipe, cold, on one device: posters/s end to end and seconds per stage.

    python benchmarks/gpu_pipeline.py --posters 300 --repeat 10 --device cuda     # paper-offline on the GPU

`--repeat` makes each poster count several times as a new poster (a few bytes appended after the JPEG's end,
so its content hash differs and nothing is served from the cache). OCR runs batched on CUDA when
onnxruntime-gpu is installed (`--ocr-set` overrides), else as the recipe says, in CPU worker processes.
Writes benchmarks/results/gpu-pipeline-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, recipe_and_posters, recipe_arguments, write_result  # noqa: E402
from gpu_ocr import cuda_provider  # noqa: E402

from mmgenre.features.cache import FeatureCache  # noqa: E402
from mmgenre.features.local_executor import LocalExecutor  # noqa: E402
from mmgenre.features.pipeline import extract_features, recipe_settings  # noqa: E402


class TimedExecutor(LocalExecutor):
    """The local executor, timing each stage."""

    seconds: dict[str, float]

    def _timed(self, stage: str, run, *args):
        started = time.perf_counter()
        try:
            return run(*args)
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    def _images(self, *args):
        return self._timed("image_encoder", super()._images, *args)

    def _ocr(self, *args):
        return self._timed("ocr", super()._ocr, *args)

    def _texts(self, *args):
        return self._timed("text_encoder", super()._texts, *args)


def unique_copies(paths: list[Path], repeat: int) -> list[tuple[str, bytes]]:
    """(name, bytes) uploads: each poster `repeat` times, made distinct by bytes after its end."""
    datas = [path.read_bytes() for path in paths]
    return [
        (f"{r}-{path.name}", data + b"\0copy" + r.to_bytes(4, "big"))
        for r in range(repeat)
        for path, data in zip(paths, datas)
    ]


def main() -> None:
    parser = recipe_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="recipe overrides (repeatable)")
    parser.add_argument("--ocr-set", action="append", help="OCR overrides [batched on CUDA if onnxruntime-gpu is here]")
    args = parser.parse_args()
    ocr_sets = args.ocr_set
    if ocr_sets is None:
        ocr_sets = (
            ["ocr.params.det_batch=64", "ocr.params.device=cuda", "ocr.params.threads=16"] if cuda_provider() else []
        )
    overrides = [f"features.device={args.device}", *ocr_sets, *args.sets]
    recipe, paths = recipe_and_posters(args, overrides)
    items = unique_copies(paths, args.repeat)
    executor = TimedExecutor(recipe_settings(recipe))
    executor.seconds = {}
    with tempfile.TemporaryDirectory() as folder, FeatureCache(folder) as cache, executor:
        started = time.perf_counter()
        features = extract_features(recipe, items, cache, progress=False, executor=executor)
        seconds = time.perf_counter() - started
    n = len(items)
    result = {
        "recipe": recipe.spec.name,
        "overrides": overrides,
        "posters": n,
        "posters_with_features": len(features),
        "seconds": seconds,
        "posters_per_second": n / seconds,
        "stage_seconds": executor.seconds,
        "ocr": recipe.ocr.identity() if recipe.ocr else None,
        "command": " ".join(["python benchmarks/gpu_pipeline.py", *sys.argv[1:]]),
    }
    path = write_result(f"gpu-pipeline-{args.device.split(':')[0]}", result)
    stages = ", ".join(f"{k} {v:.1f} s ({n / v:,.1f}/s)" for k, v in executor.seconds.items() if v)
    print_table(
        [
            {
                "recipe": recipe.spec.name,
                "posters": n,
                "seconds": f"{seconds:.1f}",
                "posters/s": f"{n / seconds:,.1f}",
                "stages": stages,
            }
        ]
    )
    print(f"overrides: {' '.join(overrides)}\nwritten to {path}")


if __name__ == "__main__":
    main()
