"""OCR benchmark for the GPU: posters/s and title-word recall of RapidOCR batched (det_batch > 1, on CUDA where
onnxruntime-gpu is installed, else on the CPU) against the per-poster CPU engine, with seconds per stage.

    python benchmarks/gpu_ocr.py --posters 300 --repeat 10                  # batched on CUDA if it can
    python benchmarks/gpu_ocr.py --posters 64 --device cpu --configs det_batch=8

Every row reads the posters through the executor's own OcrPool (images loaded by threads, or by worker
processes for the per-poster engine). The batched rows first read the posters once (warm-up: ONNX Runtime
meets each input shape), then `--repeat` times; recall is measured on the first pass. Stage seconds come
from the batched engine (prepare, det, post-process, crops, rec; decode = loading the posters with the
same threads, measured alone). Writes benchmarks/results/gpu-ocr-*.json and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import DEFAULT_POSTERS, print_table, write_result  # noqa: E402

from mmgenre import DEFAULT_GENRES  # noqa: E402
from mmgenre.bench.ocr_bench import parse_engine  # noqa: E402
from mmgenre.bench.ocr_quality import title_word_recall  # noqa: E402
from mmgenre.data.dataset import load_dataset  # noqa: E402
from mmgenre.features.ocr_stage import OcrPool, default_workers, load_poster  # noqa: E402
from mmgenre.features.sources import ImageOptions, Source  # noqa: E402
from mmgenre.registry import Registry  # noqa: E402


def cuda_provider() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def read_all(engine, sources: list[Source], workers: int) -> tuple[dict[str, str], float, int]:
    """Texts by source key, wall seconds, posters that failed."""
    pool = OcrPool(engine, ImageOptions(), workers)
    texts, failed = {}, 0
    started = time.perf_counter()
    try:
        for source, outcome in pool.read(sources):
            if outcome.status == "fatal":
                raise RuntimeError(outcome.detail)
            if outcome.status == "ok":
                texts[source.key] = outcome.result["text"]
            else:
                failed += 1
    finally:
        pool.close()
    return texts, time.perf_counter() - started, failed


def recall(posters, texts: dict[str, str]) -> float:
    found = [title_word_recall(p.meta.get("title", ""), texts.get(str(i), "")) for i, p in enumerate(posters)]
    return float(np.mean([r for r in found if r is not None]))


def decode_seconds(sources: list[Source], workers: int) -> float:
    """Wall seconds to load (read, decode, check) the posters with `workers` threads, as OcrPool loads them."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda source: load_poster(source, ImageOptions()), sources))
    return time.perf_counter() - started


def measure(label: str, engine, posters, sources: list[Source], repeat: int, workers: int) -> dict:
    """One row: a first pass (recall; warm-up when batched), then `repeat` timed passes when batched."""
    texts, first_seconds, failed = read_all(engine, sources, workers)
    row = {"engine": label, "params": engine.params.model_dump(mode="json"), "posters": len(sources)}
    row.update(first_pass_per_second=len(sources) / first_seconds, title_word_recall=recall(posters, texts))
    row.update(failed=failed, per_second=row["first_pass_per_second"], timed_posters=len(sources))
    batched = getattr(engine, "_batched", None)
    if batched is not None and repeat > 0:
        batched.seconds = dict.fromkeys(batched.seconds, 0.0)
        timed = [Source(f"{r}-{s.key}", path=s.path) for r in range(repeat) for s in sources]
        _, seconds, _ = read_all(engine, timed, workers)
        row.update(per_second=len(timed) / seconds, timed_posters=len(timed), wall_seconds=seconds)
        row["stage_seconds"] = {"decode": decode_seconds(timed, workers), **batched.seconds}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=None, help="timed passes of the batched rows [10 cuda, 1 cpu]")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    parser.add_argument("--device", choices=["cuda", "cpu"], help="batched rows [cuda if onnxruntime-gpu is here]")
    parser.add_argument("--configs", default="det_batch=64", help="batched rapidocr params, ';'-separated sets")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes or loader threads")
    parser.add_argument("--skip-per-poster", action="store_true", help="leave out the per-poster CPU row")
    args = parser.parse_args()
    device = args.device or ("cuda" if cuda_provider() else "cpu")
    repeat = args.repeat if args.repeat is not None else (10 if device == "cuda" else 1)
    posters = load_dataset(args.data, list(DEFAULT_GENRES)).posters[: args.posters]
    sources = [Source(str(i), path=p.path) for i, p in enumerate(posters)]
    registry = Registry.from_entry_points()
    rows = []
    if not args.skip_per_poster:
        rows.append(
            measure("rapidocr per poster (CPU)", registry.create("ocr", "rapidocr"), posters, sources, 0, args.workers)
        )
    for config in filter(None, args.configs.split(";")):
        _, params = parse_engine(f"rapidocr:{config.replace(',', ':')}")
        params = {"device": device, "threads": args.workers, **params}
        engine = registry.create("ocr", "rapidocr", params)
        rows.append(
            measure(f"rapidocr batched {config} ({params['device']})", engine, posters, sources, repeat, args.workers)
        )
    note = None if device == "cuda" else "no onnxruntime-gpu (CUDAExecutionProvider) here: batched rows ran on the CPU"
    command = " ".join(["python benchmarks/gpu_ocr.py", *sys.argv[1:]])
    path = write_result(f"gpu-ocr-{device}", {"rows": rows, "device": device, "note": note, "command": command})
    print_table([table_row(row) for row in rows])
    if note:
        print(f"NOTE: {note}")
    print(f"written to {path}")


def table_row(row: dict) -> dict:
    stages = row.get("stage_seconds", {})
    return {
        "engine": row["engine"],
        "posters/s": f"{row['per_second']:,.1f}",
        "first pass/s": f"{row['first_pass_per_second']:,.1f}",
        "recall": f"{row['title_word_recall']:.3f}",
        "stage seconds": ", ".join(f"{k} {v:.1f}" for k, v in stages.items()) or "-",
    }


if __name__ == "__main__":
    main()
