"""The executor components: typed params over the feature pipeline's local, Ray and Dask executors."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from mmgenre.api import Executor, Params, Settings


class RunnerExecutor(Executor):
    """An executor component over one of the pipeline's runners: started on first use, closed with it."""

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self._runner = None

    def make_runner(self):
        raise NotImplementedError

    def runner(self):
        if self._runner is None:
            self._runner = self.make_runner()
        return self._runner

    def execute(self, plan, store, skips, progress=None):
        runner = self.runner()
        runner.settings = self.run_settings or runner.settings
        return runner.execute(plan, store, skips, progress)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None


class LocalParams(Params):
    ocr_workers: int | None = Field(
        None, ge=1, description="OCR worker processes [default: the recipe's, else every core]"
    )


class LocalExecutorComponent(RunnerExecutor):
    """This machine's cores (OCR worker processes) and its GPU, if any (encoders)."""

    name = "local"
    Params = LocalParams
    cache_exempt = frozenset(LocalParams.model_fields)  # where features are computed never changes them

    def resolve_settings(self, features_spec):
        settings = Settings.here(features_spec)
        return replace(settings, ocr_workers=self.params.ocr_workers) if self.params.ocr_workers else settings

    def make_runner(self):
        from mmgenre.api import LocalExecutor

        return LocalExecutor(Settings())


class RayParams(Params):
    address: str | None = Field(
        None, description="Ray cluster, HOST:PORT or ray://HOST:PORT [default: RAY_ADDRESS, else a local Ray]"
    )
    shards: str | None = Field(None, description="shard folder every node can write; a rerun resumes from it")
    ocr_actors: int | None = Field(None, ge=1, description="OCR actors [default: one per cluster CPU]")
    ocr_batch: int = Field(8, ge=1, description="posters per OCR call (and shard)")
    image_actors: int | None = Field(
        None, ge=1, description="image-encoder actors [default: one per GPU, or per 8 CPUs]"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray started for the run")


class RayExecutorComponent(RunnerExecutor):
    """A Ray cluster (Ray Data): workers write shards that this process ingests into the store."""

    name = "ray"
    Params = RayParams
    cache_exempt = frozenset(RayParams.model_fields)
    requires_modules = ("ray",)
    install_hint = "pip install 'mmgenre[ray]'"

    def make_runner(self):
        from mmgenre.api import RayExecutor, RayOptions

        p = self.params
        options = RayOptions(ocr_actors=p.ocr_actors, ocr_batch=p.ocr_batch, image_actors=p.image_actors)
        init = {"num_cpus": p.num_cpus} if p.num_cpus else {}
        return RayExecutor(Settings(), p.address, shards=p.shards, options=options, init_args=init)

    def resolve_settings(self, features_spec):
        return Settings.of(features_spec, self.runner().device(features_spec.device))  # the cluster's devices


class DaskParams(Params):
    address: str | None = Field(
        None, description="Dask scheduler, tcp://HOST:PORT [default: a LocalCluster for the run]"
    )
    workers: int = Field(1, ge=1, description="LocalCluster workers")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster threads per worker")
    processes: bool = Field(False, description="LocalCluster workers as processes (else threads of this process)")
    ocr_batch: int = Field(8, ge=1, description="posters per OCR task")


class DaskExecutorComponent(RunnerExecutor):
    """A Dask cluster (dask.distributed): one task per batch, results written to the store as they finish."""

    name = "dask"
    Params = DaskParams
    cache_exempt = frozenset(DaskParams.model_fields)
    requires_modules = ("distributed",)
    install_hint = "pip install 'mmgenre[dask]'"

    def resolve_settings(self, features_spec):
        return Settings.here(features_spec)

    def make_runner(self):
        from mmgenre.api import DaskExecutor, DaskOptions

        return DaskExecutor(Settings(), DaskOptions(**self.params.model_dump()))
