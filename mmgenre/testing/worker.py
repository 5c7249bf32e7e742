"""A worker process the checks send pickled components to, the way the feature pipeline sends OCR engines to its
workers (a forkserver process pool): started on first use, reused by the checks that follow."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import re
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mmgenre.files.reader import ReadError, read_text
from mmgenre.testing.contract import CheckSkipped


class WorkerProcess:
    """One worker process; a crash in it is reported and the next call starts a fresh one."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    def call(self, function: Callable[..., Any], *args: Any, timeout: float = 600) -> Any:
        """`function(*args)` in the worker; its exception is raised here. Where a worker would run the calling
        script again (no main guard), the check is skipped with the fix instead of starting one."""
        problem = main_guard_problem()
        if problem:
            raise CheckSkipped(problem)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("forkserver"))
        try:
            return self._executor.submit(function, *args).result(timeout)
        except BrokenProcessPool as error:
            self.close()  # a dead worker is not reused
            raise BrokenProcessPool(f"{error} {WORKER_HINT}") from error
        except BaseException:
            if self._executor is not None and self._executor._broken:  # type: ignore[attr-defined]
                self.close()
            raise

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None


WORKER_HINT = (
    "The worker process imports the script that runs the checks (as multiprocessing does): if they run from a "
    'script, call them under `if __name__ == "__main__":` (freeze_support() is not needed).'
)
MAIN_GUARD = re.compile(r"""^if\s+(__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__)\s*:""", re.M)


def main_guard_problem() -> str | None:
    """Why no worker process may start from here, or None: inside a worker that is still importing the calling
    script, or when that script has no main guard (the worker would run it, and the checks, again)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        return f"the checks were started again while a worker process imported the calling script. {WORKER_HINT}"
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):  # python -c, a notebook, a console script
        return None
    try:
        source = read_text(path, MAX_SCRIPT_BYTES)
    except ReadError:
        return None
    if MAIN_GUARD.search(source):
        return None
    return (
        f"this check runs the component in a worker process, which would run {Path(path).name} again from the "
        'top: call the checks under `if __name__ == "__main__":` in that script to run it'
    )


MAX_SCRIPT_BYTES = 10_000_000


def unpickled_fingerprint(data: bytes) -> str:
    """The fingerprint of a pickled component, unpickled in this (worker) process."""
    return pickle.loads(data).fingerprint()


def read_in_worker(data: bytes) -> str:
    """What a pickled (engine, image) pair reads here, set up as OCR workers set engines up; the result as JSON."""
    engine, image = pickle.loads(data)
    engine.configure_process()
    engine.setup()
    return json.dumps(engine.read(image).to_json())
