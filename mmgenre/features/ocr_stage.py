"""Reading posters with an OCR engine: in worker processes, in threads (remote engines) or in this process."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

from mmgenre.components import OcrEngine
from mmgenre.data.images import BadImage
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.sources import ImageOptions, Source

_worker_engine: OcrEngine | None = None  # the engine of this worker process (workers run only it)
_worker_error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one poster: 'ok' (result), 'bad' (unreadable image), 'failed' or 'fatal' (engine)."""

    status: str
    result: dict = field(default_factory=dict)
    category: str = ""
    detail: str = ""
    seconds: float = 0.0  # time spent in the engine's `read`


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _start_worker(engine: OcrEngine) -> None:
    """Process-pool initializer: configure the process and load the engine once; a failure is reported by
    every task."""
    global _worker_engine, _worker_error
    try:
        engine.configure_process()
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
        image = options.load(source)
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


class OcrPool:
    """Reads posters with one engine, sized to its kind of work; keeps its workers until `close`."""

    def __init__(self, engine: OcrEngine, options: ImageOptions, workers: int | None = None) -> None:
        self.engine, self.options = engine, options
        self.workers = workers or default_workers()
        self._executor: Executor | None = None

    def read(self, sources: list[Source]) -> Iterator[tuple[Source, Outcome]]:
        """(source, outcome) as results arrive."""
        if not sources:
            return
        if self.workers <= 1 and self.engine.parallelism == "process":
            self.engine.setup()
            for source in sources:
                yield source, read_poster(self.engine, source, self.options)
            return
        executor = self._start()
        if self.engine.parallelism == "thread":
            futures = {executor.submit(read_poster, self.engine, s, self.options): s for s in sources}
        else:
            futures = {executor.submit(_read_in_worker, s, self.options): s for s in sources}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def _start(self) -> Executor:
        if self._executor is None:
            if self.engine.parallelism == "thread":
                self.engine.setup()
                self._executor = ThreadPoolExecutor(max_workers=self.workers)
            else:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=get_context("forkserver"),
                    initializer=_start_worker,
                    initargs=(self.engine,),
                )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
