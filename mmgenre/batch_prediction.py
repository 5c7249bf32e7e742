"""`predict --data`: genres for a whole folder or list of posters, streamed to a CSV or JSON-lines file as they
come, so that a rerun skips the rows already written (a killed run resumes)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmgenre.data.skips import SkipLog
from mmgenre.errors import MmgenreError
from mmgenre.features.progress import Progress
from mmgenre.predictor import Prediction, Predictor

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CHUNK = 64  # posters per batch through the predictor


def poster_files(data: Path) -> list[Path]:
    """Every image in a folder (recursively, sorted), or the paths in a list file (one per line, or a CSV's
    `file` column; relative paths are relative to the list)."""
    if data.is_dir():
        return sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not data.is_file():
        raise MmgenreError(f"--data {data} is neither a folder of posters nor a list file")
    text = data.read_text(encoding="utf-8-sig", errors="replace")
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
    """Appends predictions to a .csv or .jsonl file; knows which files it already holds."""

    def __init__(self, path: Path, labels: list[str]) -> None:
        if path.suffix.lower() not in (".csv", ".jsonl"):
            raise MmgenreError(f"--out {path}: use a .csv or .jsonl file name")
        self.path, self.labels, self.csv = path, labels, path.suffix.lower() == ".csv"
        self.columns = ["file", "genres", "ocr_text", *labels]
        self.done = self._read_done()
        self.handle = path.open("a", encoding="utf-8", newline="")
        if self.csv and not self.done and path.stat().st_size == 0:
            csv.writer(self.handle).writerow(self.columns)

    def _read_done(self) -> set[str]:
        """The files already predicted in `path`. A file that is not one of our prediction files is an error
        and is left untouched; only a partial last row of ours (a killed run) is cut off."""
        if not self.path.exists():
            return set()
        if not self.path.is_file():
            raise MmgenreError(f"--out {self.path} is not a regular file: choose a .csv or .jsonl file name")
        try:
            with self.path.open(encoding="utf-8", newline="") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            raise MmgenreError(
                f"{self.path} is not a prediction file of ours (not UTF-8 text): choose another --out"
            ) from None
        newline = "\r\n" if self.csv else "\n"  # csv rows end in \r\n (OCR texts inside them hold \n)
        end = text.rfind(newline) + len(newline) if newline in text else 0
        whole, partial = text[:end], text[end:]
        done = self._rows(whole)
        if partial:
            if not self._is_ours(partial, first=not whole):
                raise MmgenreError(f"{self.path} is not a prediction file of ours: choose another --out")
            with self.path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(whole)  # a run killed mid-row: drop the partial row we wrote
        return done

    def _is_ours(self, partial: str, first: bool) -> bool:
        """Whether an unfinished last line is the start of what this writer writes there."""
        start = ",".join(self.columns) + "\r\n" if self.csv else '{"file": '
        if self.csv and not first:
            return True  # after our header: a row of ours
        return start.startswith(partial) or (not self.csv and partial.startswith(start))

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
