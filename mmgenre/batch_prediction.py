"""`predict --data`: genres for a whole folder or list of posters, streamed to a CSV or JSON-lines file as they
come, so that a rerun skips the rows already written (a killed run resumes)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mmgenre.data.skips import SkipLog
from mmgenre.errors import MmgenreError
from mmgenre.features.progress import Progress
from mmgenre.files.errors import writing
from mmgenre.files.reader import ReadError, is_regular_file, read_bytes, read_json, read_text
from mmgenre.files.writer import atomic_write
from mmgenre.prediction import Prediction

if TYPE_CHECKING:  # or an OnnxPredictor (--runtime onnx): the same interface, and no torch imported
    from mmgenre.predictor import Predictor

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CHUNK = 64  # posters per batch through the predictor
MAX_LIST_BYTES = 1 << 30  # a list file of posters
MAX_PREDICTIONS_BYTES = 1 << 34  # a prediction file being resumed


def poster_files(data: Path) -> list[Path]:
    """Every image in a folder (recursively, sorted), or the paths in a list file (one per line, or a CSV's
    `file` column; relative paths are relative to the list)."""
    if data.is_dir():
        return sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not is_regular_file(data):
        raise MmgenreError(f"--data {data} is neither a folder of posters nor a list file")
    text = read_text(data, MAX_LIST_BYTES)
    if data.suffix.lower() == ".csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text)))
        except csv.Error as error:
            raise MmgenreError(f"{data} is not a readable CSV file: {error}") from None
        if rows and "file" not in rows[0]:
            raise MmgenreError(f"{data} has no `file` column")
        names = [name.strip() for row in rows if isinstance(name := row["file"], str) and name.strip()]
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [data.parent / name for name in names]


class PredictionWriter:
    """Appends predictions to a .csv or .jsonl file; knows which files it already holds.

    Beside the file it leaves `.NAME.mmgenre`, which says mmgenre writes it and with which columns: only such a
    file is resumed (its partial last row, from a killed run, cut off); any other file is refused untouched."""

    def __init__(self, path: Path, labels: list[str]) -> None:
        if path.suffix.lower() not in (".csv", ".jsonl"):
            raise MmgenreError(f"--out {path}: use a .csv or .jsonl file name")
        self.path, self.labels, self.csv = path, labels, path.suffix.lower() == ".csv"
        self.columns = ["file", "genres", "ocr_text", *labels]
        self.mark = path.with_name(f".{path.name}.mmgenre")
        self.done = self._read_done()
        with writing(path, "--out"):
            self.handle = path.open("a", encoding="utf-8", newline="")
        if self.csv and not self.done and path.stat().st_size == 0:
            csv.writer(self.handle).writerow(self.columns)

    def _read_done(self) -> set[str]:
        """The files already predicted in `path` (a new or empty file: none; one it did not write: an error)."""
        if not os.path.lexists(self.path) or (is_regular_file(self.path) and self.path.stat().st_size == 0):
            atomic_write(self.mark, json.dumps({"format": 1, "kind": "predictions", "columns": self.columns}))
            return set()
        if not is_regular_file(self.path):
            raise MmgenreError(f"--out {self.path} is not a regular file: choose a .csv or .jsonl file name")
        self._check_ours()
        try:
            text = read_bytes(self.path, MAX_PREDICTIONS_BYTES).decode("utf-8")
        except UnicodeDecodeError:
            raise MmgenreError(f"{self.path} is not UTF-8 text: it was changed since mmgenre wrote it") from None
        newline = "\r\n" if self.csv else "\n"  # csv rows end in \r\n (OCR texts inside them hold \n)
        end = text.rfind(newline) + len(newline) if newline in text else 0
        whole, partial = text[:end], text[end:]
        done = self._rows(whole)
        if partial:
            atomic_write(self.path, whole, option="--out")  # a run killed mid-row: drop the partial row we wrote
        return done

    def _check_ours(self) -> None:
        try:
            mark = read_json(self.mark, limit=2**20)
        except ReadError:
            mark = None
        if not isinstance(mark, dict) or mark.get("kind") != "predictions":
            raise MmgenreError(
                f"--out {self.path} exists and was not written by mmgenre predict (there is no {self.mark.name} "
                "beside it): it is left as it is; choose a new file name"
            )
        if mark.get("columns") != self.columns:
            raise MmgenreError(f"{self.path} holds other columns than this run's predictions: choose another --out")

    def _rows(self, text: str) -> set[str]:
        if self.csv:
            rows = list(csv.reader(io.StringIO(text)))
            if rows and rows[0] != self.columns:
                raise MmgenreError(f"{self.path} holds other columns than this run's predictions: choose another --out")
            return {row[0] for row in rows[1:] if row}
        done = set()
        for number, line in enumerate(text.splitlines(), 1):
            try:
                done.add(json.loads(line)["file"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise MmgenreError(
                    f"{self.path} line {number} is not a prediction of ours: choose another --out"
                ) from None
        return done

    def write(self, prediction: Prediction) -> None:
        if self.csv:
            scores = [f"{prediction.scores[label]:.4f}" for label in self.labels]
            csv.writer(self.handle).writerow(
                [prediction.file, "|".join(prediction.genres), prediction.ocr_text or "", *scores]
            )
        else:
            self.handle.write(json.dumps(prediction.to_json()) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


@dataclass
class BatchSummary:
    posters: int
    already_done: int
    predicted: int = 0
    skips: SkipLog = field(default_factory=SkipLog)

    def to_json(self) -> dict:
        return {
            "posters": self.posters,
            "already_done": self.already_done,
            "predicted": self.predicted,
            "skipped": self.skips.counts(),
        }


def predict_to_file(predictor: Predictor, files: list[Path], out: Path, progress: bool | None = None) -> BatchSummary:
    """Predict every file not yet in `out`, writing each batch's rows as soon as they are ready."""
    writer = PredictionWriter(out, predictor.labels)
    todo = [f for f in files if str(f) not in writer.done]
    summary = BatchSummary(len(files), len(files) - len(todo))
    try:
        with Progress(len(todo), "predict", progress) as bar:
            for chunk in chunks(todo, CHUNK):
                for prediction in predictor.predict(list(chunk), summary.skips):
                    writer.write(prediction)
                    summary.predicted += 1
                bar.update(len(chunk))
    finally:
        writer.close()
    return summary


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
