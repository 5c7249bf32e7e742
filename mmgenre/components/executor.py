"""The executor interface: where a feature plan is computed (this machine, a Ray or Dask cluster, ...).

An executor is chosen per command (`--executor NAME --executor-opt KEY=VALUE`), not in a recipe. It owns what
is expensive to start (worker processes, a cluster connection, loaded encoders), so one executor runs many
plans; close it when done.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from mmgenre.components.base import Component

if TYPE_CHECKING:
    from mmgenre.data.skips import SkipLog
    from mmgenre.features.plan import FeaturePlan, Settings
    from mmgenre.features.store import FeatureStore


class Executor(Component):
    """Computes what a feature plan lacks and writes it to a store (see `mmgenre.features.pipeline`)."""

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self.run_settings: Settings | None = None  # what `execute` computes with (set by `settings`)

    def settings(self, features_spec) -> Settings:
        """Resolve (and keep, for `execute`) how features are computed for a recipe's `features` section."""
        self.run_settings = self.resolve_settings(features_spec)
        return self.run_settings

    def resolve_settings(self, features_spec) -> Settings:
        """The default resolves the device on this machine; a cluster executor may look at its workers'."""
        from mmgenre.features.devices import resolve_device
        from mmgenre.features.plan import Settings

        return Settings.of(features_spec, resolve_device(features_spec.device))

    @abstractmethod
    def execute(
        self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None = None
    ) -> dict[str, int]:
        """Compute what the plan lacks, write it to `store`; returns the items computed per stage."""

    def close(self) -> None:  # noqa: B027 (executors without resources need no close)
        """Free workers and connections this executor started."""

    def __getstate__(self) -> dict:
        """Only the params travel to another process (workers or connections do not); it opens its own there."""
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"])  # type: ignore[misc]

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
