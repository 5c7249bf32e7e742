"""The executor interface: where a feature plan is computed (this machine, a Ray or Dask cluster, ...).

An executor is chosen per command (`--executor NAME --executor-opt KEY=VALUE`), not in a recipe. It owns what
is expensive to start (worker processes, a cluster connection, loaded encoders), so one executor runs many
plans; close it when done. The types it meets (a feature plan, its settings, a store, a skip log) are those of
`mmgenre.features`; plugins reach them through `mmgenre.api`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from mmgenre.components.base import Component


class Executor(Component):
    """Computes what a feature plan lacks and writes it to a store (see `mmgenre.features.pipeline`)."""

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self.run_settings: Any = None  # the Settings `execute` computes with (set by `settings`)

    def settings(self, features_spec) -> Any:
        """Resolve (and keep, for `execute`) how features are computed for a recipe's `features` section."""
        self.run_settings = self.resolve_settings(features_spec)
        return self.run_settings

    @abstractmethod
    def resolve_settings(self, features_spec) -> Any:
        """The Settings for a recipe's `features` section: `Settings.here(features_spec)` on this machine's
        devices, or what a cluster's workers have."""

    @abstractmethod
    def execute(self, plan, store, skips, progress: bool | None = None) -> dict[str, int]:
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
