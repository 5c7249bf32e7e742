"""A run folder: everything needed to rebuild, evaluate and reuse one trained model.

model.safetensors   weights (safetensors: loading never runs code)
recipe.yaml         the fully resolved recipe
run.json            format version, labels, feature widths, dataset, split ids, components, timings, versions
history.jsonl       per-epoch training and validation metrics
thresholds.json     per-genre thresholds tuned on the validation split
metrics.json        final metrics on the validation and test splits
scores.npz          per-poster scores and true genres of the validation and test splits
.mmgenre-run        marks the folder as an mmgenre run (so that only such a folder is ever replaced)

A folder is only written when it is new, empty, or one of our runs replaced on purpose (`overwrite`); even
then only the run files above are replaced: anything else in it stays.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mmgenre.components import FeatureDims
from mmgenre.errors import RecipeError, RunError
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.output_folders import check_output_folder

log = logging.getLogger("mmgenre")
MODEL_FILE = "model.safetensors"
MARKER = ".mmgenre-run"
RUN_FILES = ("recipe.yaml", "history.jsonl", "thresholds.json", "metrics.json", "scores.npz", MODEL_FILE)
SPLIT_NAMES = ("train", "val", "test")
RUN_FORMAT = 2  # 1: runs written before run.json had a format; 2: `data` is a dataset reference, `components`


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
    data: dict  # the dataset source: {"name": "folder", "params": {"path": "/abs/posters"}}
    splits: dict[str, list[str]]  # poster ids per split
    train_genre_counts: list[int] = field(default_factory=list)
    limit: int | None = None  # only the first N posters of `data` were used
    best_epoch: int = 0
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    components: dict = field(default_factory=dict)  # recipe key -> name, plugin, package, version, fingerprint
    format: int = RUN_FORMAT

    def feature_dims(self) -> FeatureDims:
        return FeatureDims(**self.dims)

    @classmethod
    def from_json(cls, data: object, where: Path) -> RunInfo:
        """Checked: a newer format fails naming both versions; unknown keys are warned about and ignored."""
        if not isinstance(data, dict):
            raise RunError(f"{where} must hold a JSON object, not {type(data).__name__}")
        written = data.get("format", 1)
        if not isinstance(written, int) or written > RUN_FORMAT:
            by = data.get("versions", {}).get("mmgenre", "?") if isinstance(data.get("versions"), dict) else "?"
            from mmgenre import __version__

            raise RunError(
                f"{where} was written by mmgenre {by} in run format {written}; this mmgenre ({__version__}) "
                f"reads formats up to {RUN_FORMAT}: upgrade mmgenre to use this run"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            log.warning("%s: ignoring unknown keys %s (written by a newer mmgenre?)", where, ", ".join(unknown))
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("data"), str):  # format 1: the resolved dataset folder
            values["data"] = {"name": "folder", "params": {"path": values["data"]}}
        missing = [name for name in ("labels", "dims", "data", "splits") if name not in values]
        if missing:
            raise RunError(f"{where} lacks the key(s) {', '.join(missing)}")
        info = cls(**values)
        problem = info.problem()
        if problem:
            raise RunError(f"{where}: {problem}")
        return info

    def problem(self) -> str | None:
        """What in these values does not have the shape mmgenre wrote; None when all does."""
        dims, counts = FeatureDims.__dataclass_fields__, self.train_genre_counts
        checks = {
            "labels": _names(self.labels) and len(self.labels) == len(set(self.labels)) > 0,
            "dims": isinstance(self.dims, dict)
            and all(k in dims and (v is None or type(v) is int) for k, v in self.dims.items()),
            "data": isinstance(self.data, dict) and isinstance(self.data.get("name"), str),
            "splits": isinstance(self.splits, dict) and all(_names(self.splits.get(s)) for s in SPLIT_NAMES),
            "train_genre_counts": isinstance(counts, list)
            and all(_is_number(n) for n in counts)
            and len(counts) in (0, len(self.labels)),
            "limit": self.limit is None or _is_number(self.limit),
            "best_epoch": _is_number(self.best_epoch),
            "components": isinstance(self.components, dict)
            and all(isinstance(c, dict) for c in self.components.values()),
            **{name: isinstance(getattr(self, name), dict) for name in ("versions", "skipped")},
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if not wrong:
            return None
        return f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not what mmgenre writes (damaged or edited?)"


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
        self._info: RunInfo | None = None  # run.json, read (and warned about) once

    def is_ours(self) -> bool:
        """Whether the folder holds an mmgenre run (complete or interrupted while being written)."""
        if (self.path / MARKER).is_file():
            return True
        return all((self.path / name).is_file() for name in ("run.json", "recipe.yaml", MODEL_FILE))

    def check_target(self, overwrite: bool = False, option: str = "--out") -> None:
        """Refuse, before any work starts, to write where something that is not our run would be touched."""
        check_output_folder(self.path, MARKER, option=option, overwrite=overwrite, ours=self.is_ours())

    def save(self, contents: RunContents) -> None:
        """Write every run file to a staging folder, then move them in. `run.json` goes last and is taken
        away first, so a crash in between leaves a folder that says it is incomplete, never a mixed run."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._info = None
        staging = Path(tempfile.mkdtemp(dir=self.path, prefix=".staging-"))
        try:
            self._write(staging, contents)
            (self.path / MARKER).touch()
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
        (folder / "run.json").write_text(json.dumps(asdict(c.info), indent=2))
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
        if not target.is_file():
            raise RunError(
                f"{self.path} is not a complete run folder: {name} is missing "
                "(was training interrupted? train again with --overwrite)"
            )
        return target

    def _json(self, name: str) -> object:
        path = self._require(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunError(f"{path} is not valid JSON: {error}") from None

    def recipe_data(self) -> dict:
        from mmgenre.recipe import parse_yaml

        path = self._require("recipe.yaml")
        try:
            data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        except UnicodeDecodeError as error:
            raise RunError(f"{path} is not UTF-8 text (byte {error.start}): not a recipe mmgenre wrote") from None
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
        bad = [label for label in labels if not _is_number(data[label])]
        if bad:
            raise RunError(f"{path}: the threshold of {', '.join(bad)} is not a number")
        return [float(data[label]) for label in labels]

    def history(self) -> list[dict]:
        path = self._require("history.jsonl")
        try:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunError(f"{path} is not valid JSON lines: {error}") from None
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
        from safetensors.torch import load_file

        try:
            return load_file(str(self._require(MODEL_FILE)))
        except RunError:
            raise
        except Exception as error:
            raise RunError(f"{self.path / MODEL_FILE} cannot be read: {error}") from None

    def write_json(self, name: str, data: object) -> Path:
        target = self.path / name
        write_atomic(target, json.dumps(data, indent=2, default=str))
        return target


def _is_number(value: object, finite: bool = True) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (math.isfinite(value) or not finite)


def _names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


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
