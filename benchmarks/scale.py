"""Scale benchmark: the local executor against Ray on this machine (same cores, cold caches), per-stage rates,
and a cost model for 100k and 1M posters on N CPU nodes or N GPU nodes.

    python benchmarks/scale.py --posters 300            # paper-offline on ../shared/data/posters

Local: plan, then the local executor's stages one after another (image encoder, OCR, text encoder), each
timed. Ray: a local Ray with this machine's cores (its start timed apart), the same posters through the
Ray executor into a fresh cache, stages streaming side by side; then the driver's ingest of its shards into
another fresh cache. Both runs are timed in wall-clock seconds and in CPU seconds of their whole process tree
(Ray's processes included): on a shared machine wall time follows the load, CPU time much less. The cost model
takes the CPU seconds per poster of each stage and Ray's CPU efficiency measured here for CPU nodes, and the
H200 figures measured in benchmarks/README.md section 4 for the image encoder on GPU nodes; what it assumes is
listed in the JSON (`assumptions`) and under the printed tables. Writes benchmarks/results/scale-*.json and
prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, recipe_and_posters, recipe_arguments, write_result  # noqa: E402

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


class TreeCpu:
    """CPU seconds used by this process and all its descendants (Ray's processes and workers included),
    sampled from /proc every half second so that processes which exit still count. CPU time, unlike wall
    time, barely changes with what else runs on a shared machine."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> float:
        stats = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry.name)] = (int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])))
        tree, grew = {os.getpid()}, True
        while grew:
            found = {pid for pid, (parent, _, _) in stats.items() if parent in tree and pid not in tree}
            tree |= found
            grew = bool(found)
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in tree:
            _, started, used = stats[pid]
            self.seen[(pid, started)] = used / ticks
        return sum(self.seen.values())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def local_run(recipe, paths: list[Path], folder: Path) -> dict:
    """The local executor, stage by stage (as extract_features runs them), each timed (wall and CPU)."""
    settings, skips, seconds, cpu_seconds = recipe_settings(recipe), SkipLog(), {}, {}
    cpu = TreeCpu()
    started, cpu_started = time.perf_counter(), cpu.sample()
    with FeatureCache(folder) as cache, LocalExecutor(settings) as executor:
        plan = plan_features(recipe, paths, cache, settings, image_options(recipe), skips)
        todo = {"image_encoder": (plan.image_todo, []), "ocr": ([], plan.ocr_todo), "text_encoder": ([], [])}
        for stage in STAGES:
            plan.image_todo, plan.ocr_todo = todo[stage]
            began, cpu_began = time.perf_counter(), cpu.sample()
            if stage == "text_encoder":
                plan_texts(plan, cache)  # the texts OCR just read, re-planned as extract_features does
            executor.execute(plan, cache, skips, progress=False)
            seconds[stage], cpu_seconds[stage] = time.perf_counter() - began, cpu.sample() - cpu_began
        texts = len(plan.text_todo)
        features = assemble(plan, cache)
    total, cpu_total = time.perf_counter() - started, cpu.sample() - cpu_started
    cpu.stop()
    return {
        "seconds": total,
        "cpu_seconds": cpu_total,
        "posters_with_features": len(features),
        "stage_seconds": seconds,
        "stage_cpu_seconds": cpu_seconds,
        "texts": texts,
    }


def ray_run(recipe, paths: list[Path], folder: Path, cores: int) -> dict:
    """The Ray executor on a local Ray of `cores` CPUs; then the ingest of its shards into a fresh cache."""
    import ray

    from mmgenre.features.ray_executor import RayExecutor

    began = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False)
    init_seconds = time.perf_counter() - began
    executor = RayExecutor(recipe_settings(recipe), shards=folder / "shards")
    cpu = TreeCpu()  # Ray's processes are children of this one: raylet, workers and actors count
    try:
        with FeatureCache(folder / "cache") as cache:
            started, wall, cpu_started = time.perf_counter(), time.time(), cpu.sample()
            features = extract_features(recipe, paths, cache, executor=executor, progress=False)
            seconds, cpu_total = time.perf_counter() - started, cpu.sample() - cpu_started
    finally:
        cpu.stop()
        ray.shutdown()
    stages = {}
    for stage in STAGES:
        reports = [r for r in executor.reports if r.stage == stage]
        stages[stage] = {
            "items": sum(r.items for r in reports),
            "actors": len({r.pid for r in reports}),
            "busy_seconds": sum(r.seconds for r in reports),  # summed over the stage's actors
            "cpu_seconds": sum(r.cpu_seconds for r in reports),  # the batches' own work, no start-up
            "done_after_seconds": max((r.finished for r in reports), default=wall) - wall,
        }
    return {
        "init_seconds": init_seconds,
        "seconds": seconds,
        "cpu_seconds": cpu_total,
        "posters_with_features": len(features),
        "computed": features.computed,
        "stages": stages,
        **ingest_run(folder, len(paths)),
    }


def ingest_run(folder: Path, posters: int) -> dict:
    """The driver's side of a cluster run: every shard of the Ray run into a fresh cache."""
    from mmgenre.features.shards import ingest

    began = time.perf_counter()
    with FeatureCache(folder / "ingested") as fresh:
        ingested = ingest(folder / "shards", fresh)
    seconds = time.perf_counter() - began
    return {
        "ingest_seconds": seconds,
        "ingest_entries": ingested.entries,
        "ingest_shards": ingested.shards,
        "ingest_posters_per_second": posters / seconds,
    }


def same_entries(a: Path, b: Path) -> dict:
    """Per kind of component: entries of the local cache, how many the Ray cache holds, how many are identical."""
    counts: dict[str, dict[str, int]] = {}
    with FeatureCache(a) as left, FeatureCache(b) as right:
        for space in left.namespaces():
            theirs = {k: (m, d) for chunk in right.entries(space.name) for k, m, d in chunk}
            count = counts.setdefault(space.kind, {"entries": 0, "present": 0, "identical": 0})
            for chunk in left.entries(space.name):
                for key, meta, data in chunk:
                    count["entries"] += 1
                    count["present"] += key in theirs
                    count["identical"] += theirs.get(key) == (meta, data)
    return counts


def cost_model(n: int, local: dict, efficiency: float, ingest_rate: float) -> dict:
    """Posters/s per node and hours for 100k and 1M posters, from the CPU seconds per poster measured here."""
    core_seconds = {stage: local["stage_cpu_seconds"][stage] / n for stage in STAGES}  # per poster
    workloads = {"paper-offline": sum(core_seconds.values()), "image only": core_seconds["image_encoder"]}
    nodes: dict[str, dict[str, float]] = {}
    for name, seconds in workloads.items():
        for cores in CPU_NODE_CORES:
            nodes.setdefault(name, {})[f"CPU node, {cores} cores"] = cores / seconds * efficiency
        # a GPU node: encoders on the H200 (measured there), OCR on its 16 cores at this machine's CPU cost
        gpu_image = MEASURED_GPU["efficientnet-lite2"]
        ocr = GPU_NODE_CORES / core_seconds["ocr"] * efficiency
        gpu = min(ocr, gpu_image, ASSUMED_GPU_TEXT) if name == "paper-offline" else gpu_image
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
    return {"core_seconds_per_poster": core_seconds, "efficiency": efficiency, "rows": rows,
            "ingest_cap_posters_per_second": ingest_rate}  # fmt: skip


def nodes_needed(rate: float, ingest_rate: float, seconds: float, posters: float = 1e6) -> int | None:
    """Nodes that finish `posters` within `seconds`; None when the driver's ingest can't keep up at any size."""
    if posters / seconds > ingest_rate:
        return None
    return int(-(-posters // (rate * seconds)))


ASSUMPTIONS = [
    "CPU nodes: the CPU seconds per poster of each stage measured here (local executor) on every core of the "
    "node, with Ray's CPU efficiency measured here (local CPU seconds / Ray CPU seconds, at most 1); cores as "
    "fast as this machine's; throughput linear in cores and nodes",
    "GPU node: image encoder at the measured H200 end-to-end rate (EfficientNet-Lite2, nvJPEG, bf16: 3,888/s, "
    "benchmarks/README.md section 4); text encoder assumed at least the CLIP text tower's measured 44,355/s; "
    "OCR (RapidOCR, CPU) on the node's 16 cores at this machine's per-core rate (not measured there)",
    "the driver ingests every shard into one SQLite file: its measured ingest rate caps a whole cluster",
    "posters read from shared storage as fast as from a local disk (not measured)",
]


def markdown(result: dict) -> str:
    local, ray_, n, load = result["local"], result["ray"], result["posters"], result["load"]
    agreement = result["entries_local_vs_ray"]
    lines = [
        f"Local executor vs Ray on one machine ({result['cores']} cores, {n} posters of {result['recipe']}, cold "
        f"caches; load average {load['before_local']} before the local run, {load['before_ray']} before the Ray "
        f"run, {load['after']} after it):",
        "",
        "| run | seconds | posters/s | CPU seconds | CPU s per poster |",
        "| --- | --- | --- | --- | --- |",
        f"| local executor | {local['seconds']:.1f} | {n / local['seconds']:.2f} | {local['cpu_seconds']:.0f} "
        f"| {local['cpu_seconds'] / n:.3f} |",
        f"| Ray executor (local Ray already up) | {ray_['seconds']:.1f} | {n / ray_['seconds']:.2f} "
        f"| {ray_['cpu_seconds']:.0f} | {ray_['cpu_seconds'] / n:.3f} |",
        f"| Ray start (`ray.init`, apart) | {ray_['init_seconds']:.1f} | | | |",
        f"| ingest of the Ray run's shards ({ray_['ingest_shards']} shards) | {ray_['ingest_seconds']:.2f} "
        f"| {ray_['ingest_posters_per_second']:,.0f} | | |",
        "",
        f"Ray / local: throughput **{result['ray_vs_local']:.2f}** (goal >= 0.85); CPU seconds per poster, local / "
        f"Ray: **{result['cpu_local_vs_ray']:.2f}**. Entries the Ray run made, identical to the local run's / "
        "present / all: "
        + "; ".join(f"{kind} {c['identical']}/{c['present']}/{c['entries']}" for kind, c in agreement.items())
        + ". Wall-clock seconds on a shared machine follow its load (the Ray run, with more processes at work, "
        "gets a larger share of a busy CPU); CPU seconds per poster compare the two executors fairly.",
        "",
        "| stage | local: seconds | local: CPU s per poster | Ray: actors | Ray: CPU s per poster (batches) "
        "| Ray: done after s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for stage in STAGES:
        r = ray_["stages"][stage]
        lines.append(
            f"| {stage} | {local['stage_seconds'][stage]:.1f} | {local['stage_cpu_seconds'][stage] / n:.3f} "
            f"| {r['actors']} | {r['cpu_seconds'] / max(r['items'], 1):.3f} | {r['done_after_seconds']:.1f} |"
        )
    model = result["cost_model"]
    lines += [
        "",
        f"Cost model (N = {NODES}; CPU seconds per poster from the local run above, Ray's CPU efficiency "
        f"{model['efficiency']:.2f}, the driver's ingest capped at {model['ingest_cap_posters_per_second']:,.0f} "
        "posters/s, the H200 encoder figures of section 4):",
        "",
        f"| workload | node | posters/s per node | 100k, 1 node (h) | 1M, 1 node (h) | 1M, {NODES} nodes (h) "
        "| nodes for 1M in 24 h | nodes for 1M in 1 h |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in model["rows"]:
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
    args = recipe_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    recipe, paths = recipe_and_posters(args, ["features.device=cpu"])
    cores, n = default_workers(), len(paths)
    load = {"before_local": load_now()}
    with tempfile.TemporaryDirectory() as folder:
        local = local_run(recipe, paths, Path(folder) / "local")
        load["before_ray"] = load_now()
        ray_ = ray_run(load_recipe(args.recipe, ["features.device=cpu"]), paths, Path(folder) / "ray", cores)
        load["after"] = load_now()
        agreement = same_entries(Path(folder) / "local", Path(folder) / "ray" / "cache")
    ratio, cpu_ratio = local["seconds"] / ray_["seconds"], local["cpu_seconds"] / ray_["cpu_seconds"]
    result = {
        "recipe": recipe.spec.name,
        "posters": n,
        "cores": cores,
        "load": load,
        "local": local,
        "ray": ray_,
        "ray_vs_local": ratio,
        "cpu_local_vs_ray": cpu_ratio,
        "entries_local_vs_ray": agreement,
        "goals": {"ray_vs_local_at_least": 0.85},
        "cost_model": cost_model(n, local, min(cpu_ratio, 1.0), ray_["ingest_posters_per_second"]),
        "assumptions": ASSUMPTIONS,
        "gpu_figures": {"measured": MEASURED_GPU, "assumed_text_per_second": ASSUMED_GPU_TEXT},
        "command": f"python benchmarks/scale.py --posters {args.posters} --recipe {args.recipe}",
    }
    path = write_result("scale", result)
    print(markdown(result))
    print(f"\nentries: {json.dumps(agreement)}\nwritten to {path.relative_to(RESULTS.parents[1])}")


if __name__ == "__main__":
    main()
