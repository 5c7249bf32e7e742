"""A run folder: everything needed to rebuild, evaluate and reuse one trained model.

model.safetensors   weights (safetensors: loading never runs code)
recipe.yaml         the fully resolved recipe
run.json            labels, feature widths, dataset, split ids, timings, versions
history.jsonl       per-epoch training and validation metrics
thresholds.json     per-genre thresholds tuned on the validation split
metrics.json        final metrics on the validation and test splits
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
    best_epoch: int = 0
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    def feature_dims(self) -> FeatureDims:
        return FeatureDims(**self.dims)


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def save(
        self, recipe_yaml: str, info: RunInfo, state: dict, history: list[dict], thresholds: list[float], metrics: dict
    ) -> None:
        from safetensors.torch import save_file

        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / "recipe.yaml", recipe_yaml)
        write_atomic(self.path / "run.json", json.dumps(asdict(info), indent=2))
        write_atomic(self.path / "history.jsonl", "".join(json.dumps(row) + "\n" for row in history))
        write_atomic(self.path / "thresholds.json", json.dumps(dict(zip(info.labels, thresholds)), indent=2))
        write_atomic(self.path / "metrics.json", json.dumps(metrics, indent=2))
        temporary = self.path / f".{MODEL_FILE}.tmp"
        save_file({k: v.contiguous() for k, v in state.items()}, str(temporary))
        os.replace(temporary, self.path / MODEL_FILE)  # last: a run with weights is a complete run

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
