"""Concurrent requests through one predictor: a worker thread owns every call into it and batches the posters of
requests that arrive together (for up to `window_ms` after the first of them, up to `max_batch` posters), so the
encoders see one batch instead of many single posters. A window of 0 turns batching off: one request per call.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mmgenre.data.images import content_hash
from mmgenre.data.skips import Skip, SkipLog
from mmgenre.features.store import FeatureStore, MemoryStore
from mmgenre.prediction import Prediction
from mmgenre.serve.memory import trim_heap

if TYPE_CHECKING:  # or an OnnxPredictor (--runtime onnx): the same interface, and no torch imported
    from mmgenre.predictor import Predictor

log = logging.getLogger("mmgenre")
IN_MEMORY = re.compile(r" ?<_io\.BytesIO object at 0x[0-9a-f]+>")  # PIL's name for an upload: says nothing


@dataclass(frozen=True)
class Poster:
    index: int  # position in its request
    name: str
    data: bytes


@dataclass
class Answer:
    """One request's outcome: predictions of the usable posters, errors for the others (both in upload order)."""

    predictions: list[dict]
    errors: list[dict]
    seconds: dict[str, float]  # queued: waiting for the worker; batch: the predictor call it was part of
    batch: dict[str, int]  # requests and posters in that call


@dataclass
class Job:
    posters: list[Poster]
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Queues requests and answers them from one worker thread, in batches."""

    def __init__(
        self, predictor: Predictor, *, window_ms: float = 10.0, max_batch: int = 64, cache: FeatureStore | None = None
    ) -> None:
        self.predictor, self.cache = predictor, cache
        self.window, self.max_batch = window_ms / 1000, max_batch
        self.counts = {"requests": 0, "posters": 0, "batches": 0}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._held: Job | None = None  # pulled from the queue but too big for the batch being gathered
        self._thread = threading.Thread(target=self._run, name="mmgenre-batcher", daemon=True)

    def start(self) -> Batcher:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, posters: list[Poster]) -> Future:
        """A future that resolves to the request's Answer."""
        job = Job(posters)
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batch under way, then stop; requests still queued are refused."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._held or self._queue.get()
            self._held = None
            if first is None:
                break
            if not first.future.set_running_or_notify_cancel():
                continue  # the client went away while its request waited
            jobs, stop = self._gather(first)
            self._answer(jobs)
            if stop:
                break
        self._refuse_queued()

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        """The first job and those that arrive within the window after it (or are queued already)."""
        jobs, posters = [first], len(first.posters)
        deadline = first.queued + self.window
        while self.window > 0 and posters < self.max_batch:
            try:
                wait = deadline - time.perf_counter()
                job = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            if posters + len(job.posters) > self.max_batch:
                self._held = job
                break
            if job.future.set_running_or_notify_cancel():
                jobs.append(job)
                posters += len(job.posters)
        return jobs, False

    def _answer(self, jobs: list[Job]) -> None:
        """One predictor call for the jobs; when it fails and there were several, each is retried alone so that
        one request's poison can't fail the others."""
        try:
            answers = self._predict(jobs)
        except Exception as error:
            if len(jobs) > 1:
                for job in jobs:
                    self._answer([job])
                return
            log.exception("prediction failed")
            jobs[0].future.set_exception(error)
            return
        for job, answer in zip(jobs, answers):
            job.future.set_result(answer)
        trim_heap()  # once the answers are out, so that it adds no latency

    def _predict(self, jobs: list[Job]) -> list[Answer]:
        """Each distinct poster content once, under a name unique in the batch; then the outcomes fanned out."""
        started = time.perf_counter()
        unique: dict[str, tuple[str, bytes]] = {}
        keys = [[content_hash(p.data) for p in job.posters] for job in jobs]
        for job, job_keys in zip(jobs, keys):
            for poster, key in zip(job.posters, job_keys):
                unique.setdefault(key, (f"{poster.name} [{len(unique) + 1}]", poster.data))
        skips = SkipLog()
        self.predictor.store = MemoryStore(behind=self.cache) if self.cache is not None else None
        try:
            predictions = self.predictor.predict(list(unique.values()), skips)
        finally:
            self.predictor.store = None  # a batch's entries are dropped with it: memory doesn't grow
            getattr(self.predictor.executor, "latencies", []).clear()  # kept for benchmarks: a server would pile up
        outcomes = outcomes_by_key(unique, predictions, skips)
        seconds = time.perf_counter() - started
        self.counts["batches"] += 1
        batch = {"requests": len(jobs), "posters": sum(len(job.posters) for job in jobs)}
        answers = []
        for job, job_keys in zip(jobs, keys):
            self.counts["requests"] += 1
            self.counts["posters"] += len(job.posters)
            answer = Answer([], [], {"queued": round(started - job.queued, 4), "batch": round(seconds, 4)}, batch)
            for poster, key in zip(job.posters, job_keys):
                add_outcome(answer, poster, outcomes.get(key))
            answers.append(answer)
        return answers

    def _refuse_queued(self) -> None:
        while True:
            try:
                job = self._held or self._queue.get_nowait()
            except queue.Empty:
                return
            self._held = None
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the server is shutting down"))


def outcomes_by_key(
    unique: dict[str, tuple[str, bytes]], predictions: list[Prediction], skips: SkipLog
) -> dict[str, Prediction | Skip]:
    by_name: dict[str, Prediction | Skip] = {p.file: p for p in predictions}
    for skip in skips.skips:
        by_name.setdefault(skip.where, skip)
    return {key: by_name[name] for key, (name, _) in unique.items() if name in by_name}


def add_outcome(answer: Answer, poster: Poster, outcome: Prediction | Skip | None) -> None:
    if isinstance(outcome, Prediction):
        answer.predictions.append({"index": poster.index, **replace(outcome, file=poster.name).to_json()})
    elif isinstance(outcome, Skip):
        error = {"index": poster.index, "file": poster.name, "category": outcome.category}
        error["detail"] = IN_MEMORY.sub("", outcome.detail)
        answer.errors.append(error)
    else:  # not expected: every poster is predicted or skipped
        answer.errors.append({"index": poster.index, "file": poster.name, "category": "not processed", "detail": ""})
