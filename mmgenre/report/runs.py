"""What the report needs from a run folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mmgenre.components import KINDS
from mmgenre.errors import RunError
from mmgenre.training.run_folder import RunFolder, RunInfo, SplitScores


@dataclass
class ReportRun:
    folder: RunFolder

    @property
    def name(self) -> str:
        return self.folder.path.name

    @cached_property
    def info(self) -> RunInfo:
        return self.folder.info()

    @property
    def labels(self) -> list[str]:
        return self.info.labels

    @cached_property
    def test(self) -> SplitScores:
        return self.folder.scores("test")

    @cached_property
    def thresholds(self) -> np.ndarray:
        return np.array(self.folder.thresholds())

    @cached_property
    def test_metrics(self) -> dict:
        metrics = self.folder.metrics()
        if "test" not in metrics:
            raise RunError(f"{self.folder.path} has no test metrics (no test posters): nothing to report")
        return metrics["test"]

    @cached_property
    def history(self) -> list[dict]:
        return self.folder.history()

    @cached_property
    def recipe(self) -> dict:
        return self.folder.recipe_data()

    def check(self) -> None:
        """Read everything the report uses, so that a damaged run stops it before anything is written."""
        self.info, self.thresholds, self.test, self.test_metrics, self.history, self.recipe  # noqa: B018

    def test_predictions(self) -> np.ndarray:
        return self.test.scores >= self.thresholds

    def describe(self) -> str:
        recipe = self.recipe
        parts = [
            f"{key}={recipe[key].get('name')}"
            for key in KINDS
            if key != "dataset" and isinstance(recipe.get(key), dict)
        ]
        data = recipe["data"] if isinstance(recipe.get("data"), dict) else {}
        parts += [f"{key}: {data[key]}" for key in ("train_where", "test_where", "train_max") if data.get(key)]
        return ", ".join(parts)


def load_runs(paths: list[str | Path]) -> list[ReportRun]:
    return [ReportRun(RunFolder(p)) for p in paths]
