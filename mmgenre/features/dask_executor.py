"""An executor that runs a feature plan on a Dask cluster (dask.distributed): a scheduler's address, or a
LocalCluster started for the executor.

The plan's tasks (`tasks.py`: the local executor's own batches, so the entries are the same bit for bit) run
on workers that keep their components loaded; results come back to this process as tasks finish and are
written to the store at once, so a killed run keeps its finished work and a rerun resumes.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from dataclasses import dataclass

from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError, MmgenreError
from mmgenre.features.plan import FeaturePlan, Settings
from mmgenre.features.progress import Progress
from mmgenre.features.store import FeatureStore
from mmgenre.features.tasks import TaskResult, plan_tasks, store_result

log = logging.getLogger("mmgenre")
_LOCK = threading.Lock()  # guards each worker's table of loaded components (threads share a worker)


@dataclass(frozen=True)
class DaskOptions:
    address: str | None = None  # a scheduler, tcp://HOST:PORT; None: a LocalCluster for this executor
    workers: int = 1  # LocalCluster workers
    threads_per_worker: int = 1
    processes: bool = False  # LocalCluster workers as processes (True) or threads of this process
    ocr_batch: int = 8  # posters per OCR task


def loaded(component, prepare):
    """This worker's copy of `component`, prepared (loaded) once and kept for the worker's life."""
    from distributed import get_worker

    worker = get_worker()
    with _LOCK:
        table = worker.__dict__.setdefault("_mmgenre_components", {})
        key = type(component).__name__ + component.fingerprint()
        if key not in table:
            prepare(component)
            table[key] = component
        return table[key]


def fresh(component):
    """An unloaded copy (class and params) to send to workers."""
    return type(component)(component.params)


class DaskExecutor:
    """Runs plans as Dask tasks; results are written to the store by this process as they arrive."""

    def __init__(self, settings: Settings, options: DaskOptions | None = None) -> None:
        self.settings, self.options = settings, options or DaskOptions()
        self._client = None
        self._cluster = None

    def connect(self):
        """The Dask client: joined to `address` (within MMGENRE_CONNECT_TIMEOUT), or to a LocalCluster started now."""
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ComponentUnavailableError(
                "the dask executor needs dask.distributed: pip install 'mmgenre[dask]'"
            ) from None
        o = self.options
        if o.address:
            from mmgenre.features.ray_connect import connect_timeout

            try:
                self._client = Client(o.address, timeout=connect_timeout(), set_as_default=False)
            except (OSError, TimeoutError) as error:
                raise MmgenreError(f"cannot reach the Dask scheduler at {o.address}: {error}") from None
        else:
            self._cluster = LocalCluster(
                n_workers=o.workers, threads_per_worker=o.threads_per_worker, processes=o.processes,
                dashboard_address=None,
            )  # fmt: skip
            self._client = Client(self._cluster, set_as_default=False)
        return self._client

    def execute(
        self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None = None
    ) -> dict[str, int]:
        """Compute what the plan lacks on the cluster, writing each task's entries as it finishes."""
        if plan.is_empty():
            return {}
        from distributed import as_completed

        client = self.connect()
        tasks = plan_tasks(
            plan, self.settings, ocr_batch=self.options.ocr_batch,
            components=lambda component: client.scatter(fresh(component), broadcast=True),
        )  # fmt: skip
        futures = [client.submit(task.function, *task.args, keep=loaded, pure=False) for task in tasks]
        computed: dict[str, int] = {}
        with ExitStack() as stack:
            bars = {
                stage: stack.enter_context(Progress(total, label, progress, unit=unit))
                for stage, (total, label, unit) in bar_specs(plan).items()
            }
            try:
                for future in as_completed(futures, loop=client.loop):
                    result: TaskResult = future.result()
                    store_result(result, store, skips)
                    computed[result.stage] = computed.get(result.stage, 0) + result.items
                    bars[result.stage].update(result.items)
            except BaseException:
                client.cancel(futures)
                raise
        return computed

    def close(self) -> None:
        """Close the client, and the LocalCluster this executor started (a scheduler it joined keeps running)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar_specs(plan: FeaturePlan) -> dict[str, tuple[int, str, str]]:
    """Progress bars per stage: (total, label, unit)."""
    specs = {}
    if plan.image_todo and plan.image_encoder is not None:
        specs["image_encoder"] = (len(plan.image_todo), f"image encoder ({plan.image_encoder.name})", "poster")
    if plan.ocr_todo and plan.ocr is not None:
        specs["ocr"] = (len(plan.ocr_todo), f"OCR ({plan.ocr.name})", "poster")
    if plan.text_todo and plan.text_encoder is not None:
        specs["text_encoder"] = (len(plan.text_todo), f"text encoder ({plan.text_encoder.name})", "text")
    return specs
