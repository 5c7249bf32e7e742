"""A run folder: everything needed to rebuild, evaluate and reuse one trained model.

model.safetensors   weights (safetensors: loading never runs code)
recipe.yaml         the fully resolved recipe
run.json            format version, labels, feature widths, dataset, split ids, components, timings, versions
history.jsonl       per-epoch training and validation metrics
thresholds.json     per-genre thresholds tuned on the validation split
metrics.json        final metrics on the validation and test splits
scores.npz          per-poster scores and true genres of the validation and test splits
.mmgenre-run        marks the folder as an mmgenre run and lists the files mmgenre wrote there

A folder is only written when it is new, empty, or one of our runs replaced on purpose (`overwrite`); even
then only the run files above are replaced: anything else in it stays.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmgenre.errors import MmgenreError, RecipeError, RunError
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.files.errors import writing
from mmgenre.files.reader import MB, is_regular_file, read_json, read_json_lines, read_text
from mmgenre.files.writer import OutputFolder, check_writable_folder
from mmgenre.training.run_info import RunInfo

log = logging.getLogger("mmgenre")
MODEL_FILE = "model.safetensors"
KIND = "run"  # the marker: .mmgenre-run
RUN_FILES = ("recipe.yaml", "history.jsonl", "thresholds.json", "metrics.json", "scores.npz", MODEL_FILE)
JSON_LIMIT = 256 * MB  # run.json holds every poster id of the splits: a few MB for a million posters


@dataclass
class SplitScores:
    """Per-poster genre scores of one split, with the poster ids and true genres."""

    ids: list[str]
    scores: np.ndarray  # (N, C)
    targets: np.ndarray  # (N, C)


@dataclass
class RunContents:
    """What `RunFolder.save` writes."""

    recipe_yaml: str
    info: RunInfo
    state: dict
    history: list[dict]
    thresholds: list[float]
    metrics: dict
    scores: dict[str, SplitScores]


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.folder = OutputFolder(self.path, KIND, legacy_files=(*RUN_FILES, "run.json", "eval-*.json"))
        self._info: RunInfo | None = None  # run.json, read (and warned about) once

    def check_target(self, overwrite: bool = False, option: str = "--out") -> None:
        """Refuse, before any work starts, to write where something that is not our run would be touched:
        the folder is ours only by its marker, never by the names of the files in it."""
        self.folder.option = option
        self.folder.check(overwrite)

    def save(self, contents: RunContents) -> None:
        """Write every run file to a staging folder, then move them in. `run.json` goes last and is taken
        away first, so a crash in between leaves a folder that says it is incomplete, never a mixed run."""
        self.folder.check()
        with writing(self.path, "--out"):
            self.path.mkdir(parents=True, exist_ok=True)
        self._info = None
        staging = Path(tempfile.mkdtemp(dir=self.path, prefix=".staging-"))
        try:
            self._write(staging, contents)
            self.folder.mark()  # checked above, before the staging folder was made
            for name in (*RUN_FILES, "run.json"):
                self.folder.target(name)  # each is new or ours: raise before anything moves
            self.folder.record([*RUN_FILES, "run.json"])
            (self.path / "run.json").unlink(missing_ok=True)
            for name in RUN_FILES:
                os.replace(staging / name, self.path / name)
            os.replace(staging / "run.json", self.path / "run.json")
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # our own staging folder

    @staticmethod
    def _write(folder: Path, c: RunContents) -> None:
        from safetensors.torch import save_file

        (folder / "recipe.yaml").write_text(c.recipe_yaml)
        (folder / "run.json").write_text(json.dumps(c.info.to_json(), indent=2))
        (folder / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in c.history))
        (folder / "thresholds.json").write_text(json.dumps(dict(zip(c.info.labels, c.thresholds)), indent=2))
        (folder / "metrics.json").write_text(json.dumps(c.metrics, indent=2))
        arrays = {}
        for split, part in c.scores.items():
            arrays[f"{split}_ids"] = np.array(part.ids, dtype=str)
            arrays[f"{split}_scores"], arrays[f"{split}_targets"] = part.scores, part.targets
        np.savez_compressed(folder / "scores.npz", **arrays)  # type: ignore[arg-type]
        save_file({k: v.contiguous() for k, v in c.state.items()}, str(folder / MODEL_FILE))

    def scores(self, split: str) -> SplitScores:
        """Saved scores of a split (arrays only: loading never unpickles objects)."""
        path, labels = self._require("scores.npz"), self.info().labels
        try:
            with np.load(path, allow_pickle=False) as data:
                if f"{split}_scores" not in data:
                    raise RunError(f"{self.path} has no saved scores for the {split} split")
                saved = SplitScores(data[f"{split}_ids"].tolist(), data[f"{split}_scores"], data[f"{split}_targets"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise RunError(f"{path} cannot be read: {error}") from None
        shape = (len(saved.ids), len(labels))
        if not (saved.scores.shape == saved.targets.shape == shape and isinstance(saved.ids, list)):
            raise RunError(f"{path}: the {split} arrays do not match {shape[0]} posters by {shape[1]} genres")
        return saved

    def _require(self, name: str) -> Path:
        target = self.path / name
        if os.path.lexists(target) and not is_regular_file(target):
            raise RunError(f"{target} is not a regular file: not a run folder mmgenre wrote")
        if not target.is_file():
            raise RunError(
                f"{self.path} is not a complete run folder: {name} is missing "
                "(was training interrupted? train again with --overwrite)"
            )
        return target

    def _json(self, name: str) -> object:
        return self._read(read_json, name)

    def _read(self, reader, name: str, limit: int = JSON_LIMIT):
        """A run file through the bounded reader; any problem is a RunError naming the file."""
        path = self._require(name)
        try:
            return reader(path, limit)
        except MmgenreError as error:
            raise RunError(str(error)) from None

    def recipe_data(self) -> dict:
        from mmgenre.recipe import MAX_RECIPE_BYTES, parse_yaml

        path, text = self.path / "recipe.yaml", self._read(read_text, "recipe.yaml", MAX_RECIPE_BYTES)
        try:
            data = parse_yaml(text, str(path))
        except RecipeError as error:
            raise RunError(str(error)) from None
        if not isinstance(data, dict):
            raise RunError(f"{path} must hold a mapping of recipe keys")
        return data

    def info(self) -> RunInfo:
        if self._info is None:
            self._info = RunInfo.from_json(self._json("run.json"), self.path / "run.json")
        return self._info

    def thresholds(self) -> list[float]:
        path, data, labels = self.path / "thresholds.json", self._json("thresholds.json"), self.info().labels
        if not isinstance(data, dict):
            raise RunError(f"{path} must map each genre to a threshold")
        missing = [label for label in labels if label not in data]
        if missing:
            raise RunError(f"{path} has no threshold for {', '.join(missing)}")
        bad = [label for label in labels if not (_is_number(data[label]) and 0 <= data[label] <= 1)]
        if bad:
            raise RunError(f"{path}: the threshold of {', '.join(bad)} is not a number from 0 to 1")
        return [float(data[label]) for label in labels]

    def history(self) -> list[dict]:
        path, rows = self.path / "history.jsonl", self._read(read_json_lines, "history.jsonl")
        for number, row in enumerate(rows, 1):
            if not (isinstance(row, dict) and all(_is_number(row.get(key), finite=False) for key in EPOCH_KEYS)):
                raise RunError(f"{path} line {number} is not a training epoch (with {', '.join(EPOCH_KEYS)})")
        return rows

    def metrics(self) -> dict:
        """Metrics per split (`val`, and `test` when the run had test posters), checked where tables read them."""
        path, data = self.path / "metrics.json", self._json("metrics.json")
        if not (isinstance(data, dict) and isinstance(data.get("val"), dict)):
            raise RunError(f"{path} must hold a JSON object with the metrics of the val split")
        labels = self.info().labels
        for split, values in data.items():
            problem = _metrics_problem(values, labels) if split in ("val", "test") else None
            if problem:
                raise RunError(f"{path}: the {split} metrics {problem}")
        return data

    def state(self) -> dict:
        """The weights, every one of them finite (a NaN weight would give NaN scores and exit 0)."""
        import torch
        from safetensors.torch import load_file

        path = self._require(MODEL_FILE)
        try:
            state = load_file(str(path))
        except Exception as error:
            raise RunError(f"{path} cannot be read: {str(error)[:300]}") from None
        broken = [
            name for name, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()
        ]
        if broken:
            raise RunError(
                f"{path} holds weights that are not finite numbers (NaN or infinity) in {', '.join(broken[:5])}"
            )
        return state

    def check_result(self, name: str) -> None:
        """Raise unless a result file `name` can be written beside the run (new or ours, in a writable folder)."""
        check_writable_folder(self.path, "RUN")
        self.folder.target(name)

    def write_json(self, name: str, data: object) -> Path:
        """A result file beside the run (`eval-test.json`, ...): new, or one we wrote before."""
        return self.folder.write(name, json.dumps(data, indent=2, default=str))


def _is_number(value: object, finite: bool = True) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (math.isfinite(value) or not finite)


EPOCH_KEYS = ("epoch", "train_loss", "val_macro_f1_tuned")


def _metrics_problem(values: object, labels: list[str]) -> str | None:
    """What is wrong with one split's metrics, as the tables and figures read them; None when nothing is."""
    if not isinstance(values, dict):
        return "are not a JSON object"
    missing = [key for key in HEADLINE if key not in values]
    if missing:
        return f"lack {', '.join(missing)}"
    references = values.get("references", {})
    if not (isinstance(references, dict) and all(isinstance(table, dict) for table in references.values())):
        return "have references that are not JSON objects"
    for table in [values, *references.values()]:
        if any(not _is_number(value, finite=False) for key, value in table.items() if key in HEADLINE):
            return "hold a value that is not a number"
    tuned = values.get("tuned")
    per_genre = tuned.get("per_genre") if isinstance(tuned, dict) else None
    if not isinstance(per_genre, dict) or any(
        not (isinstance(per_genre.get(label), dict) and _is_number(per_genre[label].get("f1"), finite=False))
        for label in labels
    ):
        return "lack the per-genre F1 of the tuned thresholds"
    return None
