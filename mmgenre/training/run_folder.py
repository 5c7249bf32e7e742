"""A run folder: everything needed to rebuild, evaluate and reuse one trained model.

model.safetensors   weights (safetensors: loading never runs code)
recipe.yaml         the fully resolved recipe
run.json            labels, feature widths, dataset, split ids, timings, versions
history.jsonl       per-epoch training and validation metrics
thresholds.json     per-genre thresholds tuned on the validation split
metrics.json        final metrics on the validation and test splits
scores.npz          per-poster scores and true genres of the validation and test splits
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from mmgenre.components import FeatureDims
from mmgenre.errors import RunError

MODEL_FILE = "model.safetensors"


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    mode = "wb" if isinstance(text, bytes) else "w"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, mode) as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class RunInfo:
    labels: list[str]
    dims: dict
    data: str
    splits: dict[str, list[str]]  # poster ids per split
    train_genre_counts: list[int] = field(default_factory=list)
    limit: int | None = None  # only the first N posters of `data` were used
    best_epoch: int = 0
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    def feature_dims(self) -> FeatureDims:
        return FeatureDims(**self.dims)


@dataclass
class SplitScores:
    """Per-poster genre scores of one split, with the poster ids and true genres."""

    ids: list[str]
    scores: np.ndarray  # (N, C)
    targets: np.ndarray  # (N, C)


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def save(
        self,
        recipe_yaml: str,
        info: RunInfo,
        state: dict,
        history: list[dict],
        thresholds: list[float],
        metrics: dict,
        scores: dict[str, SplitScores],
    ) -> None:
        """Write the run into a fresh folder, then swap it in: a crash leaves the old run or the new one."""
        from safetensors.torch import save_file

        staging = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "recipe.yaml").write_text(recipe_yaml)
        (staging / "run.json").write_text(json.dumps(asdict(info), indent=2))
        (staging / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in history))
        (staging / "thresholds.json").write_text(json.dumps(dict(zip(info.labels, thresholds)), indent=2))
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
        arrays = {}
        for split, part in scores.items():
            arrays.update(
                {
                    f"{split}_ids": np.array(part.ids, dtype=str),
                    f"{split}_scores": part.scores,
                    f"{split}_targets": part.targets,
                }
            )
        np.savez_compressed(staging / "scores.npz", **arrays)  # type: ignore[arg-type]
        save_file({k: v.contiguous() for k, v in state.items()}, str(staging / MODEL_FILE))
        retired = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
        if self.path.exists():
            os.replace(self.path, retired)
        os.replace(staging, self.path)
        shutil.rmtree(retired, ignore_errors=True)

    def scores(self, split: str) -> SplitScores:
        """Saved scores of a split (arrays only: loading never unpickles objects)."""
        with np.load(self._require("scores.npz"), allow_pickle=False) as data:
            if f"{split}_scores" not in data:
                raise RunError(f"{self.path} has no saved scores for the {split} split")
            return SplitScores(data[f"{split}_ids"].tolist(), data[f"{split}_scores"], data[f"{split}_targets"])

    def _require(self, name: str) -> Path:
        target = self.path / name
        if not target.is_file():
            raise RunError(f"{self.path} is not a complete run folder: {name} is missing (was training interrupted?)")
        return target

    def recipe_data(self) -> dict:
        return yaml.safe_load(self._require("recipe.yaml").read_text())

    def info(self) -> RunInfo:
        return RunInfo(**json.loads(self._require("run.json").read_text()))

    def thresholds(self) -> list[float]:
        data = json.loads(self._require("thresholds.json").read_text())
        return [data[label] for label in self.info().labels]

    def history(self) -> list[dict]:
        return [json.loads(line) for line in self._require("history.jsonl").read_text().splitlines() if line]

    def metrics(self) -> dict:
        return json.loads(self._require("metrics.json").read_text())

    def state(self) -> dict:
        from safetensors.torch import load_file

        try:
            return load_file(str(self._require(MODEL_FILE)))
        except Exception as error:
            raise RunError(f"{self.path / MODEL_FILE} cannot be read: {error}") from None

    def write_json(self, name: str, data: object) -> Path:
        target = self.path / name
        write_atomic(target, json.dumps(data, indent=2, default=str))
        return target
