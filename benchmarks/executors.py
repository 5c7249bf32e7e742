"""Executors and stores: the Dask executor's throughput as a fraction of the local executor's on this machine
(same posters, cold stores), and a warm `train` reading its features from Parquet shards (fsspec) against the
SQLite cache (same run, same features).

    python benchmarks/executors.py --posters 80                    # paper-offline on ../shared/data/posters
    python benchmarks/executors.py --posters 40 --no-train --workers 2 --processes

After a warm-up on 4 posters (imports, file caches), local: `extract_features` with the local executor into a
fresh SQLite cache. Dask: the same into a fresh Parquet shard store (parquet+file://) on a LocalCluster
(`--workers`, `--threads` per worker, `--processes`; default one worker thread in this process), whose start and
stop are timed apart. Both are timed in wall-clock seconds and in CPU seconds of their whole process tree. Then
(unless --no-train) the same training run twice, once on each filled store: its wall time, the time of the warm
feature read alone, and whether the metrics agree. Writes benchmarks/results/executors-*.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import recipe_and_posters, recipe_arguments, write_result  # noqa: E402
from scale import TreeCpu, load_now  # noqa: E402

from mmgenre.features.dask_executor import DaskExecutor, DaskOptions  # noqa: E402
from mmgenre.features.ocr_stage import default_workers  # noqa: E402
from mmgenre.features.pipeline import extract_features  # noqa: E402
from mmgenre.features.plan import Settings  # noqa: E402
from mmgenre.features.store_url import open_store  # noqa: E402
from mmgenre.registry import Registry  # noqa: E402


def timed_run(recipe, paths: list[Path], store, executor) -> dict:
    """extract_features on `executor` into `store`: wall and process-tree CPU seconds."""
    cpu = TreeCpu()
    began, cpu_began = time.perf_counter(), cpu.sample()
    features = extract_features(
        recipe, paths, store, executor=executor, settings=executor.settings(recipe.spec.features), progress=False
    )
    seconds, cpu_seconds = time.perf_counter() - began, cpu.sample() - cpu_began
    cpu.stop()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "posters_per_second": round(len(paths) / seconds, 3),
        "posters_with_features": len(features),
        "computed": features.computed,
        "load_before": load_now(),
    }


def warm_train(recipe, data: Path, store, out: Path, limit: int) -> dict:
    """The same training run on a filled store: its wall time, and the warm feature read alone."""
    from mmgenre.data.dataset import load_dataset
    from mmgenre.training.train import train

    dataset = load_dataset(data, recipe.labels)
    posters = [p.path for p in dataset.posters[:limit]]
    began = time.perf_counter()
    features = extract_features(recipe, posters, store, progress=False)
    read_seconds = time.perf_counter() - began
    assert not any(features.computed.values()), f"the store was not warm: {features.computed}"
    began = time.perf_counter()
    run = train(recipe, dataset, store, out, limit=limit, progress=False)
    return {
        "feature_read_seconds": round(read_seconds, 3),
        "train_seconds": round(time.perf_counter() - began, 2),
        "val_macro_f1": run.metrics()["val"]["macro_f1"],
    }


def main() -> None:
    parser = recipe_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--workers", type=int, default=1, help="Dask workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per Dask worker")
    parser.add_argument("--processes", action="store_true", help="Dask workers as processes (else threads here)")
    parser.add_argument("--no-train", action="store_true", help="throughput only: leave out the warm train")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    recipe, paths = recipe_and_posters(args, [])
    registry = Registry.from_entry_points()
    options = {"workers": args.workers, "threads_per_worker": args.threads, "processes": args.processes}
    with tempfile.TemporaryDirectory(prefix="mmgenre-executors-") as folder:
        root = Path(folder)
        sqlite_url, shards_url = str(root / "cache"), f"parquet+file://{root / 'shards'}"
        with open_store(str(root / "warm-up"), registry) as store, registry.create("executor", "local") as local:
            timed_run(recipe, paths[:4], store, local)  # imports and file caches warm: neither run pays for them
        with open_store(sqlite_url, registry) as store, registry.create("executor", "local") as local:
            local_result = timed_run(recipe, paths, store, local)
        began = time.perf_counter()
        with DaskExecutor(Settings(), DaskOptions(**options)) as probe:  # a cluster started and stopped, timed apart
            probe.connect()
        start_seconds = time.perf_counter() - began
        with open_store(shards_url, registry) as store, registry.create("executor", "dask", options) as dask:
            dask_result = timed_run(recipe, paths, store, dask)
        trains = {}
        for label, url in () if args.no_train else (("sqlite", sqlite_url), ("parquet", shards_url)):
            with open_store(url, registry) as store:
                trains[label] = warm_train(recipe, args.data, store, root / f"run-{label}", args.posters)
    result = {
        "recipe": args.recipe,
        "posters": len(paths),
        "cores": default_workers(),
        "local": local_result,
        "dask": {**dask_result, "cluster_start_and_stop_seconds": round(start_seconds, 2), **options},
        "dask_throughput_vs_local": round(local_result["seconds"] / dask_result["seconds"], 3),
        "dask_cpu_vs_local": round(dask_result["cpu_seconds"] / local_result["cpu_seconds"], 3),
    }
    if trains:
        result["warm_train"] = trains
        result["parquet_feature_read_vs_sqlite"] = round(
            trains["parquet"]["feature_read_seconds"] / trains["sqlite"]["feature_read_seconds"], 3
        )
        result["same_metrics"] = trains["parquet"]["val_macro_f1"] == trains["sqlite"]["val_macro_f1"]
    path = write_result("executors", result)
    print(
        f"Dask throughput: {result['dask_throughput_vs_local']:.0%} of local ({dask_result['posters_per_second']} vs "
        f"{local_result['posters_per_second']} posters/s), CPU x{result['dask_cpu_vs_local']}; written to {path}"
    )
    for label, numbers in trains.items():
        print(
            f"warm train, {label}: feature read {numbers['feature_read_seconds']} s, train {numbers['train_seconds']} s"
        )


if __name__ == "__main__":
    main()
