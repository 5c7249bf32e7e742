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


def read_batches(
    engine: OcrEngine, sources: list[Source], options: ImageOptions, loader: ThreadPoolExecutor
) -> Iterator[tuple[Source, Outcome]]:
    """Posters read `engine.batch_size` at a time by `read_batch` in this process (a GPU engine), each chunk's
    images loaded by `loader` while the previous chunk is read."""
    try:
        engine.setup()
    except Exception as error:  # as a worker that cannot start: every poster reports it
        detail = str(error) if isinstance(error, ComponentUnavailableError) else f"{type(error).__name__}: {error}"
        yield from ((source, Outcome("fatal", detail=detail)) for source in sources)
        return
    size = engine.batch_size
    chunks = [sources[start : start + size] for start in range(0, len(sources), size)]
    pending = [loader.submit(load_poster, source, options) for source in chunks[0]]
    try:
        for index, chunk in enumerate(chunks):
            images = [future.result() for future in pending]
            if index + 1 < len(chunks):
                pending = [loader.submit(load_poster, source, options) for source in chunks[index + 1]]
            yield from zip(chunk, read_chunk(engine, images))
    finally:
        for future in pending:
            future.cancel()


def load_poster(source: Source, options: ImageOptions):
    """The source's image, or the BadImage that says why not."""
    try:
        return options.load(source)
    except BadImage as error:
        return error


def read_chunk(engine: OcrEngine, images: list) -> list[Outcome]:
    """Outcomes of one `read_batch` call over the loadable images (the others are 'bad')."""
    good = [image for image in images if not isinstance(image, BadImage)]
    started = time.perf_counter()
    try:
        results: list = engine.read_batch(good) if good else []
    except Exception as error:  # read_batch returns failures in place; raising fails the whole chunk
        results = [error] * len(good)
    seconds = (time.perf_counter() - started) / max(1, len(good))
    read = iter(results)
    outcomes = []
    for image in images:
        result = image if isinstance(image, BadImage) else next(read)
        if isinstance(result, BadImage):
            outcomes.append(Outcome("bad", category=result.category, detail=result.detail))
        elif isinstance(result, ComponentUnavailableError):
            outcomes.append(Outcome("fatal", detail=str(result)))
        elif isinstance(result, Exception):
            outcomes.append(Outcome("failed", category="OCR failed", detail=f"{type(result).__name__}: {result}"))
        else:
            outcomes.append(Outcome("ok", result.to_json(), seconds=seconds))
    return outcomes


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
        if self.engine.batch_size > 1:
            yield from read_batches(self.engine, sources, self.options, self._loader())
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

    def _loader(self) -> ThreadPoolExecutor:
        """Threads that load the next batch's posters while the engine reads this one (PIL frees the GIL)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers)
        return self._executor  # type: ignore[return-value]

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
