"""Scale benchmark: the local executor against Ray on this machine (same cores, cold caches), per-stage rates,
and a cost model for 100k and 1M posters on N CPU nodes or N GPU nodes.

    python benchmarks/scale.py --posters 300            # paper-offline on ../shared/data/posters

Local: plan, then the local executor's stages one after another (image encoder, OCR, text encoder), each
timed. Ray: a local Ray with this machine's cores (its start timed apart), the same posters through the
Ray executor into a fresh cache, stages streaming side by side; then the driver's ingest of its shards into
another fresh cache. The cost model takes the measured per-core stage rates (and the Ray/local ratio) for CPU
nodes, and the H200 figures measured in benchmarks/README.md section 4 for the image encoder on GPU nodes;
everything it assumes is listed in the JSON under `cost_model.assumptions`. Writes
benchmarks/results/scale-*.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POSTERS, RESULTS, write_result  # noqa: E402

from mmgenre.data.dataset import load_dataset  # noqa: E402
from mmgenre.data.skips import SkipLog  # noqa: E402
from mmgenre.features.assemble import assemble  # noqa: E402
from mmgenre.features.cache import FeatureCache  # noqa: E402
from mmgenre.features.local_executor import LocalExecutor  # noqa: E402
from mmgenre.features.ocr_stage import default_workers  # noqa: E402
from mmgenre.features.pipeline import extract_features, image_options, recipe_settings  # noqa: E402
from mmgenre.features.plan import plan_features, plan_texts  # noqa: E402
from mmgenre.recipe import load_recipe  # noqa: E402

STAGES = ("image_encoder", "ocr", "text_encoder")
CPU_NODE_CORES = (16, 64)
GPU_NODE_CORES = 16  # the H200 machine the GPU figures were measured on
NODES = 10  # the "N nodes" column
MEASURED_GPU = {  # benchmarks/README.md section 4 (encoders-gpu-20261128-173042.json): end to end, posters/s
    "efficientnet-lite2": 3888.0,  # nvJPEG decode on the GPU, bf16, batch 512
    "hf-clip ViT-B/32": 8328.0,
}
ASSUMED_GPU_TEXT = 44355.0  # ENVIRONMENT.md: CLIP text tower bf16 on the H200; MiniLM (smaller) not measured


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def local_run(recipe, paths: list[Path], folder: Path) -> dict:
    """The local executor, stage by stage (as extract_features runs them), each timed."""
    settings, skips, seconds = recipe_settings(recipe), SkipLog(), {}
    started = time.perf_counter()
    with FeatureCache(folder) as cache, LocalExecutor(settings) as executor:
        plan = plan_features(recipe, paths, cache, settings, image_options(recipe), skips)
        seconds["plan"] = time.perf_counter() - started
        todo = {"image_encoder": plan.image_todo, "ocr": plan.ocr_todo}
        for stage in ("image_encoder", "ocr"):
            plan.image_todo, plan.ocr_todo = (todo[stage], []) if stage == "image_encoder" else ([], todo[stage])
            began = time.perf_counter()
            executor.execute(plan, cache, skips, progress=False)
            seconds[stage] = time.perf_counter() - began
        plan.image_todo, plan.ocr_todo = [], []
        began = time.perf_counter()
        plan_texts(plan, cache)
        texts = len(plan.text_todo)
        executor.execute(plan, cache, skips, progress=False)
        seconds["text_encoder"] = time.perf_counter() - began
        began = time.perf_counter()
        features = assemble(plan, cache)
        seconds["assemble"] = time.perf_counter() - began
    total = time.perf_counter() - started
    return {"seconds": total, "posters_with_features": len(features), "stage_seconds": seconds, "texts": texts}


def ray_run(recipe, paths: list[Path], folder: Path, cores: int) -> dict:
    """The Ray executor on a local Ray of `cores` CPUs; then the ingest of its shards into a fresh cache."""
    import ray

    from mmgenre.features.ray_executor import RayExecutor
    from mmgenre.features.shards import ingest

    began = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False)
    init_seconds = time.perf_counter() - began
    executor = RayExecutor(recipe_settings(recipe), shards=folder / "shards")
    try:
        with FeatureCache(folder / "cache") as cache:
            started, wall = time.perf_counter(), time.time()
            features = extract_features(recipe, paths, cache, executor=executor, progress=False)
            seconds = time.perf_counter() - started
    finally:
        ray.shutdown()
    began = time.perf_counter()
    with FeatureCache(folder / "ingested") as fresh:
        ingested = ingest(folder / "shards", fresh)
    ingest_seconds = time.perf_counter() - began
    stages = {}
    for stage in STAGES:
        reports = [r for r in executor.reports if r.stage == stage]
        busy = sum(r.seconds for r in reports)
        items = sum(r.items for r in reports)
        stages[stage] = {
            "items": items,
            "actors": len({r.pid for r in reports}),
            "busy_seconds": busy,  # summed over the stage's actors
            "per_actor_per_second": items / busy if busy else None,
            "done_after_seconds": max((r.finished for r in reports), default=wall) - wall,
        }
    return {
        "init_seconds": init_seconds,
        "seconds": seconds,
        "posters_with_features": len(features),
        "computed": features.computed,
        "stages": stages,
        "ingest_seconds": ingest_seconds,
        "ingest_entries": ingested.entries,
        "ingest_posters_per_second": len(paths) / ingest_seconds,
        "shards": ingested.shards,
    }


def same_entries(a: Path, b: Path) -> dict:
    """How many entries of the local cache the Ray cache holds, and how many of them are identical."""
    with FeatureCache(a) as left, FeatureCache(b) as right:
        total = identical = present = 0
        for space in left.namespaces():
            theirs = {k: (m, d) for chunk in right.entries(space.name) for k, m, d in chunk}
            for chunk in left.entries(space.name):
                for key, meta, data in chunk:
                    total += 1
                    present += key in theirs
                    identical += theirs.get(key) == (meta, data)
    return {"entries": total, "present": present, "identical": identical}


def cost_model(n: int, cores: int, local: dict, ratio: float, ingest_rate: float) -> dict:
    """Posters/s per node and hours for 100k and 1M posters, from the per-core rates measured here."""
    per_core = {stage: n / (local["stage_seconds"][stage] * cores) for stage in STAGES}  # posters per core-second
    core_seconds = {
        "paper-offline": sum(1 / per_core[s] for s in STAGES),
        "image only": 1 / per_core["image_encoder"],
    }
    nodes: dict[str, dict[str, float]] = {}
    for name, seconds in core_seconds.items():
        for c in CPU_NODE_CORES:
            nodes.setdefault(name, {})[f"CPU node, {c} cores"] = c / seconds * ratio
        # a GPU node: encoders on the H200 (measured), OCR on its 16 cores at this machine's per-core rate
        gpu_image = MEASURED_GPU["efficientnet-lite2"]
        ocr = GPU_NODE_CORES / (1 / per_core["ocr"]) * ratio
        gpu = min(ocr, gpu_image, ASSUMED_GPU_TEXT) if name == "paper-offline" else gpu_image * ratio
        nodes[name][f"GPU node (H200 + {GPU_NODE_CORES} cores)"] = gpu
    rows = []
    for workload, by_node in nodes.items():
        for node, rate in by_node.items():
            one, many = min(rate, ingest_rate), min(rate * NODES, ingest_rate)  # one driver ingests every shard
            rows.append(
                {
                    "workload": workload,
                    "node": node,
                    "posters_per_second_per_node": rate,
                    "hours_100k_1_node": 1e5 / one / 3600,
                    "hours_1m_1_node": 1e6 / one / 3600,
                    f"hours_1m_{NODES}_nodes": 1e6 / many / 3600,
                    "nodes_for_1m_in_24h": nodes_needed(rate, ingest_rate, 86400),
                    "nodes_for_1m_in_1h": nodes_needed(rate, ingest_rate, 3600),
                }
            )
    return {"per_core_posters_per_second": per_core, "rows": rows, "ingest_cap_posters_per_second": ingest_rate}


def nodes_needed(rate: float, ingest_rate: float, seconds: float, posters: float = 1e6) -> int | None:
    """Nodes that finish `posters` within `seconds`; None when the driver's ingest can't keep up at any size."""
    if posters / seconds > ingest_rate:
        return None
    return int(-(-posters // (rate * seconds)))


ASSUMPTIONS = [
    "CPU nodes: per-core stage rates measured here (local executor, this machine's cores) scale linearly with "
    "cores and nodes, times the Ray/local ratio measured here",
    "GPU node: image encoder at the measured H200 end-to-end rate (EfficientNet-Lite2, nvJPEG, bf16: 3,888/s, "
    "benchmarks/README.md section 4); text encoder assumed at least the CLIP text tower's measured 44,355/s; "
    "OCR (RapidOCR, CPU) on the node's 16 cores at this machine's per-core rate (not measured there)",
    "the driver ingests every shard into one SQLite file: its measured ingest rate caps a whole cluster",
    "posters read from shared storage as fast as from a local disk (not measured)",
]


def markdown(result: dict) -> str:
    local, ray_, n = result["local"], result["ray"], result["posters"]
    lines = [
        f"Local executor vs Ray on this machine ({result['cores']} cores, {n} posters of {result['recipe']}, cold "
        f"caches; load average {result['load']['before_local']} before the local run, "
        f"{result['load']['before_ray']} before the Ray run):",
        "",
        "| run | seconds | posters/s |",
        "| --- | --- | --- |",
        f"| local executor | {local['seconds']:.1f} | {n / local['seconds']:.2f} |",
        f"| Ray executor (local Ray already up) | {ray_['seconds']:.1f} | {n / ray_['seconds']:.2f} |",
        f"| Ray start (`ray.init`, apart) | {ray_['init_seconds']:.1f} | |",
        f"| ingest of the Ray run's shards | {ray_['ingest_seconds']:.2f} | {ray_['ingest_posters_per_second']:,.0f} |",
        "",
        f"Ray / local throughput: **{result['ray_vs_local']:.2f}** (goal >= 0.85).",
        "",
        "| stage | local: seconds (all cores) | local: posters/s per core | Ray: actors | Ray: per actor/s "
        "| Ray: done after s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    per_core = result["cost_model"]["per_core_posters_per_second"]
    for stage in STAGES:
        r = ray_["stages"][stage]
        rate = f"{r['per_actor_per_second']:.2f}" if r["per_actor_per_second"] else "-"
        lines.append(
            f"| {stage} | {local['stage_seconds'][stage]:.1f} | {per_core[stage]:.2f} | {r['actors']} | {rate} "
            f"| {r['done_after_seconds']:.1f} |"
        )
    lines += [
        "",
        f"Cost model (N = {NODES}; per-node rates from the per-core rates above, the H200 figures of section 4):",
        "",
        f"| workload | node | posters/s per node | 100k, 1 node (h) | 1M, 1 node (h) | 1M, {NODES} nodes (h) "
        "| nodes for 1M in 24 h | nodes for 1M in 1 h |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["cost_model"]["rows"]:
        values = list(row.values())
        lines.append(
            f"| {values[0]} | {values[1]} | {values[2]:,.1f} | {values[3]:,.1f} | {values[4]:,.1f} | {values[5]:,.1f} "
            f"| {count(values[6])} | {count(values[7])} |"
        )
    lines += ["", "Assumed, not measured:"] + [f"- {a}" for a in ASSUMPTIONS]
    return "\n".join(lines)


def count(nodes: int | None) -> str:
    return "ingest-bound" if nodes is None else f"{nodes:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=300)
    parser.add_argument("--recipe", default="paper-offline")
    parser.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe, ["features.device=cpu"])
    paths = [p.path for p in load_dataset(args.data, recipe.labels).posters[: args.posters]]
    cores, n = default_workers(), len(paths)
    load = {"before_local": load_now()}
    with tempfile.TemporaryDirectory() as folder:
        local = local_run(recipe, paths, Path(folder) / "local")
        load["before_ray"] = load_now()
        ray_ = ray_run(load_recipe(args.recipe, ["features.device=cpu"]), paths, Path(folder) / "ray", cores)
        load["after"] = load_now()
        agreement = same_entries(Path(folder) / "local", Path(folder) / "ray" / "cache")
    ratio = local["seconds"] / ray_["seconds"]
    result = {
        "recipe": recipe.spec.name,
        "posters": n,
        "cores": cores,
        "load": load,
        "local": local,
        "ray": ray_,
        "ray_vs_local": ratio,
        "entries_local_vs_ray": agreement,
        "goals": {"ray_vs_local_at_least": 0.85},
        "cost_model": {**cost_model(n, cores, local, min(ratio, 1.0), ray_["ingest_posters_per_second"])},
        "assumptions": ASSUMPTIONS,
        "gpu_figures": {"measured": MEASURED_GPU, "assumed_text_per_second": ASSUMED_GPU_TEXT},
        "command": f"python benchmarks/scale.py --posters {args.posters} --recipe {args.recipe}",
    }
    path = write_result("scale", result)
    print(markdown(result))
    print(f"\nentries: {json.dumps(agreement)}\nwritten to {path.relative_to(RESULTS.parents[1])}")


if __name__ == "__main__":
    main()
