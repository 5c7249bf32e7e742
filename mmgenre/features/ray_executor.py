"""An executor that runs a feature plan on a Ray cluster (Ray Data), writing shards that the driver ingests.

Two streams run side by side: plan batches of posters -> image-encoder actors, and posters -> OCR actors ->
text-encoder actors (which also embed the plan's texts already read). Workers read the poster bytes
themselves (the plan holds each poster's key and path), compute entries with the local executor's own
functions and write them to shards; the driver ingests each shard into the store as its report comes back,
so a killed run keeps its finished work. To resume from a shard folder, `ingest` it before planning.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError, MmgenreError
from mmgenre.features.plan import FeaturePlan, Settings
from mmgenre.features.progress import Progress
from mmgenre.features.ray_connect import JOIN_TIMEOUT, connect_timeout, join_cluster, probe_cluster
from mmgenre.features.ray_stages import Report
from mmgenre.features.shards import KIND, finished_shards, ingest, ingest_shard, write_namespaces
from mmgenre.features.store import FeatureStore

log = logging.getLogger("mmgenre")


@dataclass(frozen=True)
class RayOptions:
    """How work is spread over the cluster; None: derived from the cluster's CPUs and GPUs."""

    ocr_actors: int | None = None  # None: one per CPU (less the encoders' share on CPU-only clusters)
    ocr_batch: int = 8  # posters per OCR call, and per OCR shard
    image_actors: int | None = None  # None: one per GPU, or one per 8 CPUs without GPUs
    text_actors: int | None = None  # None: one per 4 GPUs or 32 CPUs, at least one
    gpus: bool | None = None  # encoders on GPU actors; None: when the cluster has GPUs
    gpus_per_encoder: float = 0.5  # an image and a text encoder actor may share a GPU
    encoder_threads: int | None = None  # torch threads per encoder actor; None: the node's cores (as local)
    ocr_resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources per OCR actor
    encoder_resources: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Actors per stage and what each reserves. Ray counts CPUs to place work: the actors share all CPUs
    but a reserve (actors holding every CPU starve Ray's own tasks and hang a dataset)."""

    ocr_actors: int
    image_actors: int
    text_actors: int
    actor_cpus: float
    encoder_gpus: float | None  # None: CPU actors

    @classmethod
    def of(cls, cpus: float, gpus: float, options: RayOptions, plan: FeaturePlan) -> Layout:
        on_gpu = gpus > 0 if options.gpus is None else options.gpus
        image = (options.image_actors or (max(1, int(gpus)) if on_gpu else max(1, int(cpus) // 8))) * bool(
            plan.image_todo and plan.image_encoder
        )
        has_text = plan.text_encoder is not None and bool(plan.text_todo or plan.ocr_todo)
        text = (options.text_actors or max(1, int(gpus) // 4 if on_gpu else int(cpus) // 32)) * has_text
        shared = image + text if cpus > 4 and not on_gpu else 0  # small machines: encoders take turns with OCR
        ocr = (options.ocr_actors or max(1, int(cpus) - shared)) * bool(plan.ocr_todo and plan.ocr)
        reserve = max(1.0, cpus / 16) if cpus >= 2 else cpus / 2
        actor_cpus = round(max(cpus - reserve, 0.01) / max(1, ocr + image + text), 3)
        return cls(ocr, image, text, actor_cpus, options.gpus_per_encoder if on_gpu else None)


class RayExecutor:
    """Runs plans on a Ray cluster: `address`, else RAY_ADDRESS, else a local Ray started for this executor."""

    def __init__(
        self,
        settings: Settings,
        address: str | None = None,
        *,
        shards: str | Path | None = None,
        options: RayOptions | None = None,
        init_args: dict | None = None,
        join_timeout: float = JOIN_TIMEOUT,
    ) -> None:
        self.settings, self.address, self.join_timeout = settings, address, join_timeout
        self.shards = Path(shards).resolve() if shards else None
        self.options = options or RayOptions()
        self.init_args = init_args or {}
        self._started = False
        self.reports: list[Report] = []  # every report of the last run (benchmarks, tests)

    @classmethod
    def for_features(cls, spec, address: str | None = None, **kwargs) -> RayExecutor:
        """An executor whose settings follow a recipe's `features` section on the cluster's devices (it joins
        the cluster to see them)."""
        executor = cls(Settings(), address, **kwargs)
        executor.settings = Settings.of(spec, executor.device(spec.device))
        return executor

    def connect(self) -> None:
        """Join the cluster (or start a local one) unless this process is connected already; a cluster that
        does not answer within MMGENRE_CONNECT_TIMEOUT, or ray.init that does not finish joining within
        `join_timeout`, is an error naming the address."""
        import ray

        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or "local"
        if address == "local":
            try:
                ray.init(address=address, **{"include_dashboard": False, **self.init_args})
            except (ConnectionError, ValueError) as error:
                raise MmgenreError(f"cannot start a local Ray: {error}") from None
        else:
            if address != "auto":
                probe_cluster(address, connect_timeout())
            join_cluster(address, self.join_timeout)
        self._started = True

    def resources(self) -> tuple[float, float]:
        """The cluster's CPUs and GPUs."""
        import ray

        self.connect()
        total = ray.cluster_resources()
        return float(total.get("CPU", 0)), float(total.get("GPU", 0))

    def device(self, requested: str = "auto") -> str:
        """The encoders' device for planning: 'cuda' when the cluster has GPUs (and the recipe allows it)."""
        if requested == "cpu":
            return "cpu"
        gpus = self.resources()[1] > 0 and self.options.gpus is not False
        if requested.startswith("cuda") and not gpus:
            raise MmgenreError(f"device '{requested}' was requested but the Ray cluster has no GPU")
        return "cuda" if gpus else "cpu"

    def execute(
        self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None = None
    ) -> dict[str, int]:
        """Compute what the plan lacks on the cluster and ingest it into the store; returns items per stage."""
        if plan.is_empty():
            return {}
        cpus, gpus = self.resources()
        layout = Layout.of(cpus, gpus, self.options, plan)
        log.info("Ray: %g CPUs, %g GPUs; %s", cpus, gpus, layout)
        with self._shard_folder() as folder:
            write_namespaces(folder, plan.spaces.all())
            from mmgenre.features.ray_dataset import build_dataset, quiet_data_context

            run = RunState(plan, store, skips, ingested=finished_shards(folder))  # earlier runs': ingested already
            with ExitStack() as stack:
                stack.enter_context(quiet_data_context())
                dataset = build_dataset(plan, self.settings, self.options, layout, str(folder))
                run.bars = {stage: stack.enter_context(bar) for stage, bar in progress_bars(plan, progress).items()}
                follow(dataset, run)
            leftover = ingest(folder, store, skip=run.ingested)  # shards whose report did not come back
            if leftover.entries:
                log.info(
                    "ingested %d entries from %d shards written by retried tasks", leftover.entries, leftover.shards
                )
        self.reports = run.reports
        run.log_lost()
        return run.computed()

    @contextmanager
    def _shard_folder(self) -> Iterator[Path]:
        """The shard folder given (kept: it is the checkpoint), else a temporary one (local clusters only)."""
        if self.shards is not None:
            from mmgenre.files.writer import OutputFolder

            yield OutputFolder(self.shards, KIND, option="--shards").claim().path
            return
        if not cluster_is_local():
            raise MmgenreError(
                "the Ray cluster has other machines: give a shard folder they can all write (--shards DIR on a "
                "shared filesystem)"
            )
        folder = Path(tempfile.mkdtemp(prefix="mmgenre-shards-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Shut down the local Ray this executor started (a cluster it joined keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cluster_is_local() -> bool:
    """Every node of the cluster is this machine (so a temporary folder here is visible to all workers)."""
    import ray

    here = ray.util.get_node_ip_address()
    return all(node["NodeManagerAddress"] == here for node in ray.nodes() if node.get("Alive"))


def progress_bars(plan: FeaturePlan, progress: bool | None) -> dict[str, Progress]:
    bars = {}
    if plan.image_todo and plan.image_encoder is not None:
        bars["image_encoder"] = Progress(len(plan.image_todo), f"image encoder ({plan.image_encoder.name})", progress)
    if plan.ocr_todo and plan.ocr is not None:
        bars["ocr"] = Progress(len(plan.ocr_todo), f"OCR ({plan.ocr.name})", progress)
    if plan.text_encoder is not None and (plan.text_todo or plan.ocr_todo):
        total = len(plan.text_todo) + len(plan.ocr_todo)  # texts to come: one per poster read (at most)
        bars["text_encoder"] = Progress(total, f"text encoder ({plan.text_encoder.name})", progress, unit="text")
    return bars


@dataclass
class RunState:
    """What the driver learns from the reports of one run."""

    plan: FeaturePlan
    store: FeatureStore
    skips: SkipLog
    bars: dict[str, Progress] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    ingested: list[Path] = field(default_factory=list)
    handled: dict[str, set[str]] = field(default_factory=dict)  # stage -> keys done or skipped
    texts: set[str] = field(default_factory=set)

    def take(self, report: Report) -> None:
        """Ingest the report's shard, log its skips, count its items."""
        self.reports.append(report)
        if report.shard:
            ingest_shard(report.shard, self.store)
            self.ingested.append(Path(report.shard))
        for _key, name, category, detail in report.skips:
            self.skips.skip(name, category, detail)
        keys = self.handled.setdefault(report.stage, set())
        keys.update(report.done)
        keys.update(skip[0] for skip in report.skips)
        if report.stage == "text_encoder":
            self.texts.update(report.done)
        bar = self.bars.get(report.stage)
        if bar is not None:
            bar.update(report.items)
        if report.stage == "ocr" and report.skips and "text_encoder" in self.bars:
            text = self.bars["text_encoder"]
            text.total = text.bar.total = text.total - len(report.skips)  # no text comes from those posters
        if report.fatal:
            component = getattr(self.plan, "ocr" if report.stage == "ocr" else report.stage)
            raise ComponentUnavailableError(
                f"{report.stage.replace('_', ' ')} '{component.name}' cannot run on node {report.node}: {report.fatal}"
            )

    def log_lost(self) -> None:
        """Posters no report mentions (lost with a failed worker): skipped now, computed by the next run."""
        for stage, todo in (("image_encoder", self.plan.image_todo), ("ocr", self.plan.ocr_todo)):
            handled = self.handled.get(stage, set())
            for source in todo:
                if source.key not in handled:
                    self.skips.skip(str(source), "lost on the cluster", f"no {stage} result came back; run again")

    def computed(self) -> dict[str, int]:
        counts = {"image_encoder": len(self.plan.image_todo), "ocr": len(self.plan.ocr_todo)}
        counts = {stage: n for stage, n in counts.items() if n and getattr(self.plan, stage) is not None}
        if self.texts or self.plan.text_todo:
            counts["text_encoder"] = len(self.texts)
        return counts


def follow(dataset, run: RunState) -> None:
    """Iterate the dataset's output (report rows) as batches finish; Ray's errors become user errors."""
    import ray

    batches = dataset.iter_batches(batch_format="pyarrow", batch_size=None)
    try:
        for batch in batches:
            for row in batch.to_pylist():
                if row["kind"] == "report":
                    run.take(Report.of(row))
    except ray.exceptions.RayError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MmgenreError(
            f"the Ray job failed ({first}); finished work is kept: run the same command again to resume"
        ) from None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
