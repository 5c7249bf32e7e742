"""OCR over many posters: worker processes (or threads for remote engines), results cached in batches."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

from mmgenre.components import OcrEngine, OcrResult
from mmgenre.data.images import BadImage
from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.cache import FeatureCache
from mmgenre.features.progress import progress_bar
from mmgenre.features.sources import ImageOptions, Source

FLUSH_EVERY = 32  # results per cache transaction
FLUSH_SECONDS = 5.0

_worker_engine: OcrEngine | None = None
_worker_error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one poster: 'ok' (result), 'bad' (unreadable image), 'failed' or 'fatal' (engine)."""

    status: str
    result: dict = field(default_factory=dict)
    category: str = ""
    detail: str = ""
    seconds: float = 0.0  # time spent in the engine's `read`


@dataclass
class OcrOutput:
    by_key: dict[str, OcrResult]  # content key -> result
    computed: int = 0  # posters read now (the rest came from the cache)
    seconds: float = 0.0  # wall time of the reading
    latencies: list[float] = field(default_factory=list)  # per poster read now


def _start_worker(engine: OcrEngine) -> None:
    """Process-pool initializer: load the engine once; a failure is reported by every task."""
    global _worker_engine, _worker_error
    try:
        engine.setup()
        _worker_engine = engine
    except Exception as error:  # reported to the parent, which stops with the message
        _worker_error = f"{type(error).__name__}: {error}"


def _read_in_worker(source: Source, options: ImageOptions) -> Outcome:
    if _worker_engine is None:
        return Outcome("fatal", detail=_worker_error or "OCR engine not started")
    return read_poster(_worker_engine, source, options)


def read_poster(engine: OcrEngine, source: Source, options: ImageOptions) -> Outcome:
    try:
        image = options.load(source.path)
    except BadImage as error:
        return Outcome("bad", category=error.category, detail=error.detail)
    started = time.perf_counter()
    try:
        result = engine.read(image).to_json()
    except ComponentUnavailableError as error:
        return Outcome("fatal", detail=str(error))
    except Exception as error:  # one poster's failure must not stop the others
        return Outcome("failed", category="OCR failed", detail=f"{type(error).__name__}: {error}")
    return Outcome("ok", result, seconds=time.perf_counter() - started)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_ocr(
    engine: OcrEngine,
    sources: list[Source],
    cache: FeatureCache,
    options: ImageOptions,
    skips: SkipLog,
    workers: int | None = None,
    progress: bool | None = None,
    refresh: bool = False,
) -> OcrOutput:
    """OCR results by content key for every source that could be read; failures are logged in `skips`.

    Cached results are reused unless `refresh` (benchmarks) asks to read every poster again.
    """
    namespace = cache.namespace(engine, "ocr")
    keys = [s.key for s in sources]
    cached = {} if refresh else cache.get_many(namespace, keys)
    output = OcrOutput({key: OcrResult.from_json(meta) for key, (meta, _) in cached.items()})
    todo = list({s.key: s for s in sources if s.key not in output.by_key}.values())
    if not todo:
        return output
    pending: list[tuple[str, dict, bytes]] = []
    started = last_flush = time.monotonic()
    with progress_bar(len(todo), f"OCR ({engine.name})", progress) as bar:
        for source, outcome in _read_all(engine, todo, options, workers):
            bar.update(1)
            if outcome.status == "fatal":
                cache.put_many(namespace, pending)
                raise ComponentUnavailableError(f"OCR engine '{engine.name}' cannot run: {outcome.detail}")
            if outcome.status == "ok":
                output.by_key[source.key] = OcrResult.from_json(outcome.result)
                output.latencies.append(outcome.seconds)
                pending.append((source.key, outcome.result, b""))
            else:
                skips.skip(str(source.path), outcome.category, outcome.detail)
            if len(pending) >= FLUSH_EVERY or (pending and time.monotonic() - last_flush > FLUSH_SECONDS):
                cache.put_many(namespace, pending)
                pending, last_flush = [], time.monotonic()
        cache.put_many(namespace, pending)
    output.computed, output.seconds = len(todo), time.monotonic() - started
    return output


def _read_all(
    engine: OcrEngine, todo: list[Source], options: ImageOptions, workers: int | None
) -> Iterator[tuple[Source, Outcome]]:
    """Yield (source, outcome) as results arrive, from a pool sized to the engine's kind of work."""
    workers = min(workers or default_workers(), len(todo))
    if workers <= 1 and engine.parallelism == "process":
        engine.setup()
        for source in todo:
            yield source, read_poster(engine, source, options)
        return
    executor: Executor
    if engine.parallelism == "thread":
        engine.setup()
        executor = ThreadPoolExecutor(max_workers=workers)
        submit = lambda s: executor.submit(read_poster, engine, s, options)
    else:
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("forkserver"), initializer=_start_worker, initargs=(engine,)
        )
        submit = lambda s: executor.submit(_read_in_worker, s, options)
    with executor:
        futures = {submit(source): source for source in todo}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()
