"""A worker process the checks send pickled components to, the way the feature pipeline sends OCR engines to its
workers (a forkserver process pool): started on first use, reused by the checks that follow."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any


class WorkerProcess:
    """One worker process; a crash in it is reported and the next call starts a fresh one."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    def call(self, function: Callable[..., Any], *args: Any, timeout: float = 600) -> Any:
        """`function(*args)` in the worker; its exception is raised here."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("forkserver"))
        try:
            return self._executor.submit(function, *args).result(timeout)
        except BaseException:
            if self._executor._broken:  # type: ignore[attr-defined]  # a dead worker is not reused
                self.close()
            raise

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None


def unpickled_fingerprint(data: bytes) -> str:
    """The fingerprint of a pickled component, unpickled in this (worker) process."""
    return pickle.loads(data).fingerprint()


def read_in_worker(data: bytes) -> str:
    """What a pickled (engine, image) pair reads here, set up as OCR workers set engines up; the result as JSON."""
    engine, image = pickle.loads(data)
    engine.configure_process()
    engine.setup()
    return json.dumps(engine.read(image).to_json())
