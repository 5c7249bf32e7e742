"""The work done inside Ray workers: read poster bytes, encode images, read text (OCR), embed texts.

Rows travel as Arrow tables of one schema (`ROW_FIELDS`): posters (with their bytes once read), texts to
embed, and reports. Each stage is a callable class that Ray Data runs as a pool of actors (its component
loads once, in `__init__`). It takes the rows meant for it, computes them with the same functions as the
local executor (`encode_stage`, `ocr_stage`), writes its entries to one shard per batch, and passes on the
other rows plus one report row, from which the driver counts progress, logs skips and ingests the shard.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmgenre.data.images import BadImage, content_hash
from mmgenre.features.namespaces import FeatureSpaces, Namespace, text_key
from mmgenre.features.plan import Settings
from mmgenre.features.shards import write_shard
from mmgenre.features.sources import ImageOptions, Source
from mmgenre.features.store import Entry

log = logging.getLogger("mmgenre")
# kind: "poster" | "text" | "report"; batch: the plan's batch (image batches are the local executor's)
ROW_FIELDS = {"kind": "", "batch": 0, "key": "", "name": "", "path": "", "data": b"", "text": "", "report": ""}


def row_schema():
    import pyarrow as pa

    types = {"batch": pa.int64(), "data": pa.binary()}
    return pa.schema([(name, types.get(name, pa.string())) for name in ROW_FIELDS])


def rows_table(rows: list[dict]):
    """Rows (dicts with some of ROW_FIELDS) -> an Arrow table of the row schema."""
    import pyarrow as pa

    columns = {name: [row.get(name, default) for row in rows] for name, default in ROW_FIELDS.items()}
    return pa.Table.from_pydict(columns, schema=row_schema())


def poster_tables(sources: list[Source], batch_size: int) -> list:
    """The plan's posters, one table per batch (the same batches as the local executor's)."""
    tables = []
    for batch, start in enumerate(range(0, len(sources), batch_size)):
        rows = [
            {
                "kind": "poster",
                "batch": batch,
                "key": s.key,
                "name": str(s),
                "path": str(s.path or ""),
                "data": s.data or b"",
            }
            for s in sources[start : start + batch_size]
        ]
        tables.append(rows_table(rows))
    return tables


def text_tables(texts: dict[str, str], batch_size: int) -> list:
    keys = list(texts)
    return [
        rows_table([{"kind": "text", "key": key, "text": texts[key]} for key in keys[start : start + batch_size]])
        for start in range(0, len(keys), batch_size)
    ]


@dataclass
class Report:
    """What one batch of one stage did; travels to the driver as JSON in a report row."""

    stage: str
    items: int = 0  # rows of this stage handled (done or skipped)
    done: list[str] = field(default_factory=list)  # keys computed
    skips: list[tuple[str, str, str, str]] = field(default_factory=list)  # key, name, category, detail
    shard: str | None = None
    node: str = ""
    pid: int = 0
    gpus: list[str] = field(default_factory=list)
    device: str = ""
    fatal: str | None = None
    seconds: float = 0.0  # spent on the batch
    cpu_seconds: float = 0.0  # CPU time of this worker process (all its threads) on the batch
    finished: float = 0.0  # wall-clock time (time.time) when it was done

    def skip(self, row: dict, category: str, detail: str) -> None:
        self.skips.append((row["key"], row["name"], category, detail))

    def row(self) -> dict:
        return {"kind": "report", "report": json.dumps(asdict(self))}

    @classmethod
    def of(cls, row: dict) -> Report:
        return cls(**json.loads(row["report"]))


def read_posters(batch, options: ImageOptions, stage: str):
    """Fill in the bytes of poster rows read from files; a poster that can't be read (or whose content
    changed since it was planned) becomes a skip in a report row."""
    rows, report = [], Report(stage)
    for row in batch.to_pylist():
        if row["kind"] == "poster" and not row["data"]:
            try:
                row["data"] = read_planned(row, options)
            except BadImage as error:
                report.skip(row, error.category, error.detail)
                report.items += 1
                continue
        rows.append(row)
    return rows_table(rows + ([report.row()] if report.items else []))


def read_planned(row: dict, options: ImageOptions) -> bytes:
    data = Source(row["key"], path=Path(row["path"]), name=row["name"]).read(options.max_bytes)
    if content_hash(data) + options.key_suffix() != row["key"]:
        raise BadImage("file changed", "its content changed after the run was planned; run again")
    return data


def node_context() -> tuple[str, list[str]]:
    """This worker's node id and the GPUs Ray gave it."""
    import ray

    context = ray.get_runtime_context()
    return context.get_node_id(), [str(g) for g in context.get_accelerator_ids().get("GPU", [])]


class Stage:
    """One kind of work on the rows of one `kind`; subclasses load their component in `__init__`."""

    stage = ""
    kind = "poster"

    def __init__(self, shard_dir: str) -> None:
        self.shard_dir = shard_dir
        self.node, self.gpus = node_context()
        self.device = "cpu"
        self.fatal: str | None = None

    def __call__(self, batch):
        rows = batch.to_pylist()
        mine = [row for row in rows if row["kind"] == self.kind]
        rest = [row for row in rows if row["kind"] != self.kind]
        if not mine:
            return rows_table(rest)
        started, cpu = time.perf_counter(), time.process_time()
        report = Report(self.stage, len(mine), node=self.node, pid=os.getpid(), gpus=self.gpus, device=self.device)
        report.fatal = self.fatal
        entries: dict[str, list[Entry]] = {}
        passed: list[dict] = []
        if self.fatal is None:
            try:
                entries, passed = self.work(mine, report)
            except Exception as error:  # one bad batch must not stop the job: its items are skipped, not lost
                detail = f"{type(error).__name__}: {error}"
                log.warning("%s: a batch of %d failed on node %s (%s)", self.stage, len(mine), self.node, detail)
                report.done, report.skips = [], [(r["key"], r["name"], "failed on the cluster", detail) for r in mine]
        path = write_shard(self.shard_dir, entries, prefix=self.stage)  # an unwritable folder stops the job
        report.shard = str(path) if path else None
        report.seconds, report.finished = time.perf_counter() - started, time.time()
        report.cpu_seconds = time.process_time() - cpu
        # the report before the rows it passes on: OCR entries reach the store before the texts read from them,
        # so a run stopped in between keeps what the next run would otherwise recompute
        return rows_table(rest + [report.row()] + passed)

    def work(self, rows: list[dict], report: Report) -> tuple[dict[str, list[Entry]], list[dict]]:
        """Entries by namespace for the rows, and rows to pass on to the next stage."""
        raise NotImplementedError

    def failed(self, error: Exception) -> None:
        self.fatal = f"{type(error).__name__}: {error}"
        log.warning("%s cannot start on node %s: %s", self.stage, self.node, self.fatal)


def encoder_device(settings: Settings, gpus: list[str]) -> str:
    """'cuda' when Ray gave this actor a GPU that torch can use, else 'cpu' (a logical GPU on a machine
    without CUDA, as in CI, falls back to the CPU unless the plan wants GPU-only features)."""
    import torch

    if gpus and torch.cuda.is_available():
        return "cuda"
    if settings.gpu_decode or settings.bf16:
        from mmgenre.errors import ComponentUnavailableError

        raise ComponentUnavailableError(
            f"the run was planned with GPU features (decode on the GPU / bf16) but this worker has no CUDA device "
            f"(Ray GPUs {gpus or 'none'}): set features.device=cpu or run the encoders on GPU nodes"
        )
    if gpus:
        log.warning("Ray gave this worker GPU %s but torch sees no CUDA device: encoding on the CPU", ",".join(gpus))
    return "cpu"


class ImageStage(Stage):
    """Encodes posters; each plan batch is encoded as one batch, exactly as the local executor does."""

    stage = "image_encoder"

    def __init__(
        self,
        encoder,
        spaces: FeatureSpaces,
        options: ImageOptions,
        settings: Settings,
        shard_dir: str,
        threads: int | None = None,
    ) -> None:
        super().__init__(shard_dir)
        self.encoder, self.spaces, self.options, self.settings = encoder, spaces, options, settings
        try:
            set_threads(threads)
            self.device = encoder_device(settings, self.gpus)
            encoder.load(self.device)
        except Exception as error:
            self.failed(error)

    def work(self, rows: list[dict], report: Report) -> tuple[dict[str, list[Entry]], list[dict]]:
        from mmgenre.features.encode_stage import image_entry_batches

        s, on_gpu = self.settings, self.device == "cuda"
        entries: dict[str, list[Entry]] = {}
        for group in by_batch(rows):
            sources = [Source(row["key"], data=row["data"], name=row["name"]) for row in group]
            for result in image_entry_batches(
                self.encoder, sources, self.options, self.spaces.image, self.spaces.image_tokens,  # type: ignore[arg-type]
                device=self.device, batch_size=len(sources), gpu_decode=s.gpu_decode and on_gpu, bf16=s.bf16 and on_gpu,
                gpu_decoder=s.gpu_decoder,
            ):  # fmt: skip
                merge(entries, result.entries)
                report.skips += [(source.key, str(source), e.category, e.detail) for source, e in result.bad]
        report.done = sorted({key for key, _, _ in entries.get(self.spaces.image.name, [])})  # type: ignore[union-attr]
        return entries, []


class OcrStage(Stage):
    """Reads the text on posters; passes each text on to the text stage."""

    stage = "ocr"

    def __init__(self, engine, space: Namespace, options: ImageOptions, shard_dir: str, emit_texts: bool) -> None:
        super().__init__(shard_dir)
        self.engine, self.space, self.options, self.emit_texts = engine, space, options, emit_texts
        try:
            engine.configure_process()  # this actor's process runs only this engine
            engine.setup()
        except Exception as error:
            self.failed(error)

    def work(self, rows: list[dict], report: Report) -> tuple[dict[str, list[Entry]], list[dict]]:
        from mmgenre.features.ocr_stage import read_poster

        def read(row: dict):
            return read_poster(self.engine, Source(row["key"], data=row["data"], name=row["name"]), self.options)

        entries, texts = [], []
        for row, outcome in zip(rows, self.outcomes(read, rows)):
            if outcome.status == "ok":
                entries.append((row["key"], outcome.result, b""))
                report.done.append(row["key"])
                text = outcome.result["text"]
                texts.append({"kind": "text", "key": text_key(text), "text": text})
            elif outcome.status == "fatal":
                report.fatal = outcome.detail
            else:
                report.skip(row, outcome.category, outcome.detail)
        return {self.space.name: entries}, texts if self.emit_texts else []

    def outcomes(self, read, rows: list[dict]) -> Iterable:
        if self.engine.parallelism != "thread":
            return map(read, rows)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(rows)) as pool:  # remote engines wait on the network
            return list(pool.map(read, rows))


class TextStage(Stage):
    """Embeds texts (from the plan and from the OCR stage); a text this actor embedded already is not redone."""

    stage = "text_encoder"
    kind = "text"

    def __init__(
        self, encoder, spaces: FeatureSpaces, settings: Settings, shard_dir: str, threads: int | None = None
    ) -> None:
        super().__init__(shard_dir)
        self.encoder, self.spaces, self.settings = encoder, spaces, settings
        self.seen: set[str] = set()
        try:
            set_threads(threads)
            self.device = encoder_device(settings, self.gpus)
            encoder.load(self.device)
        except Exception as error:
            self.failed(error)

    def work(self, rows: list[dict], report: Report) -> tuple[dict[str, list[Entry]], list[dict]]:
        from mmgenre.features.encode_stage import text_entry_batches

        texts = {row["key"]: row["text"] for row in rows if row["key"] not in self.seen}
        entries: dict[str, list[Entry]] = {}
        batches = text_entry_batches(
            self.encoder, texts, self.spaces.text, self.spaces.text_tokens,  # type: ignore[arg-type]
            device=self.device, batch_size=self.settings.batch_size, bf16=self.settings.bf16 and self.device == "cuda",
        )  # fmt: skip
        for result in batches:
            merge(entries, result.entries)
        self.seen.update(texts)
        report.done = list(texts)
        return entries, []


def set_threads(threads: int | None) -> None:
    """Torch threads of this actor; None: the node's cores, as a local run uses (Ray sets OMP_NUM_THREADS=1 in
    its workers, and results can differ in the last bit with the thread count)."""
    import torch

    from mmgenre.features.ocr_stage import default_workers

    torch.set_num_threads(threads or default_workers())


def by_batch(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by their plan batch, in order."""
    groups: dict[int, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["batch"], []).append(row)
    return list(groups.values())


def merge(into: dict[str, list[Entry]], entries: dict[str, list[Entry]]) -> None:
    for namespace, items in entries.items():
        into.setdefault(namespace, []).extend(items)
