"""Dataset folders: images plus a `labels.csv` with `file` and `genres` (joined by `|`) columns."""

from __future__ import annotations

import csv
import difflib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmgenre.data.images import file_problem
from mmgenre.data.skips import SkipLog, log
from mmgenre.errors import DatasetError

LABELS_FILE = "labels.csv"
MAX_LABELS_BYTES = 2**30  # a labels.csv of ten million posters


@dataclass(frozen=True)
class Poster:
    """One labelled poster; `meta` keeps the csv's other columns (title, year, language ...)."""

    id: str
    path: Path
    genres: tuple[str, ...]  # the genres of the label set, in label-set order
    meta: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass
class PosterDataset:
    location: str  # where the posters were listed (for messages)
    labels: list[str]
    posters: list[Poster]
    skips: SkipLog
    ignored_genres: Counter
    rows: int = 0  # rows read from the listing, usable or not
    reference: dict | None = None  # the dataset source that opens it again: {"name": ..., "params": ...}

    def targets(self) -> np.ndarray:
        """(N, C) 0/1 matrix of genres in label-set order."""
        return genre_matrix(self.posters, self.labels)

    def __len__(self) -> int:
        return len(self.posters)


def genre_matrix(posters: list[Poster], labels: list[str]) -> np.ndarray:
    """(N, C) 0/1 float32 matrix of the posters' genres in label-set order."""
    index = {label: i for i, label in enumerate(labels)}
    targets = np.zeros((len(posters), len(labels)), dtype=np.float32)
    for row, poster in enumerate(posters):
        targets[row, [index[g] for g in poster.genres]] = 1
    return targets


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The csv's header and (line number, row) pairs; a BOM is accepted, other encodings are clear errors."""
    from mmgenre.files.reader import ReadError, read_text

    try:
        text = read_text(path, MAX_LABELS_BYTES)
    except ReadError as error:
        hint = ": save it as UTF-8" if "UTF-8" in str(error) else ""
        raise DatasetError(f"{error}{hint}") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip() for name in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise DatasetError(f"{path} is not a readable CSV file: {error}") from None
    return header, rows


def canonical_genres(labels: list[str]) -> dict[str, str]:
    """Lookup of label spellings: exact, and case/space/dash-insensitive."""
    lookup = {label: label for label in labels}
    lookup.update({normalise(label): label for label in labels})
    return lookup


def normalise(genre: str) -> str:
    return "".join(ch for ch in genre.casefold() if ch.isalnum())


def load_dataset(root: str | Path, labels: list[str]) -> PosterDataset:
    """A dataset folder: images plus a labels.csv whose `file` column is relative to the folder."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    if not (root / LABELS_FILE).is_file():
        raise DatasetError(f"{root} has no {LABELS_FILE} (columns: file, genres joined by '|')")
    return read_labels_csv(root / LABELS_FILE, root, labels)


def read_labels_csv(
    path: Path, base: Path, labels: list[str], file_column: str = "file", genres_column: str = "genres"
) -> PosterDataset:
    """Posters listed in a csv (files relative to `base`, or absolute); unusable rows are skipped with a
    warning, a listing with no usable row is an error."""
    header, rows = read_rows(path)
    missing = [c for c in (file_column, genres_column) if c not in header]
    if missing:
        raise DatasetError(
            f"{path} lacks the column(s) {', '.join(missing)}; found: {', '.join(header) or '(no header)'}"
        )
    if not rows:
        raise DatasetError(f"{path} has a header but no rows: nothing to use")
    lookup = canonical_genres(labels)
    skips, ignored = SkipLog(), Counter[str]()
    seen: dict[str, tuple[int, str | None]] = {}
    ids: set[str] = set()
    posters = []
    for line, row in rows:
        where = f"{path.name} line {line}"
        file = (row.get(file_column) or "").strip()
        raw_genres = row.get(genres_column) or ""
        if not file:
            skips.skip(where, "no file name")
            continue
        if file in seen:
            first_line, first_genres = seen[file]
            same = "same genres" if first_genres == raw_genres else "different genres"
            skips.skip(where, "duplicate row", f"{file} already on line {first_line}, {same}; kept the first")
            continue
        seen[file] = (line, raw_genres)
        genres = parse_genres(raw_genres, lookup, labels, ignored, where)
        if not genres:
            if raw_genres.strip():
                skips.skip(where, "no genre of the label set", file, expected=True)
            else:
                skips.skip(where, "no genres", file)
            continue
        poster_path = base / file  # an absolute `file` stays as it is
        problem = file_problem(poster_path)
        if problem is not None:
            skips.skip(str(poster_path), problem.category, problem.detail)
            continue
        meta = {k: v for k, v in row.items() if k not in (file_column, genres_column) and isinstance(k, str)}
        poster_id = (row.get("imdb_id") or row.get("id") or "").strip() or file
        if poster_id in ids:
            poster_id = file  # ids must be unique: they name posters in run folders
        ids.add(poster_id)
        posters.append(Poster(poster_id, poster_path, genres, meta))
    if not posters:
        raise DatasetError(f"{path}: none of its {len(rows)} rows is usable ({skips.summary(len(rows), 'rows')})")
    if ignored:
        top = ", ".join(f"{g} ({n})" for g, n in ignored.most_common(8))
        log.info("genres outside the label set were ignored: %s", top)
    log.info("%s: %s", path, skips.summary(len(rows), "rows"))
    return PosterDataset(str(path), list(labels), posters, skips, ignored, rows=len(rows))


def parse_genres(text: str, lookup: dict[str, str], labels: list[str], ignored: Counter, where: str) -> tuple[str, ...]:
    """Genres of the label set found in `text`, in label order; near-misses of a label are warned about."""
    found = set()
    for raw in (g.strip() for g in text.split("|")):
        if not raw:
            continue
        label = lookup.get(raw) or lookup.get(normalise(raw))
        if label:
            found.add(label)
            continue
        ignored[raw] += 1
        close = difflib.get_close_matches(raw, labels, n=1, cutoff=0.8)
        if close:
            log.warning("%s: unknown genre '%s' ignored (did you mean '%s'?)", where, raw, close[0])
    return tuple(label for label in labels if label in found)
