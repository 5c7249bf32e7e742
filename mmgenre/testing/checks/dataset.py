"""Checks for dataset sources: posters with genres of the label set, a reference that opens them again from
elsewhere, and a clear error for a location that does not exist."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from PIL import Image

from mmgenre import DEFAULT_GENRES
from mmgenre.data.dataset import PosterDataset
from mmgenre.errors import DatasetError
from mmgenre.testing.contract import check, expect
from mmgenre.testing.workbench import Workbench

SOURCE_FIX = (
    "give the checks a tiny dataset: a `conformance_params(cls, folder)` classmethod that writes one into `folder` "
    "(mmgenre.testing.write_posters helps) and returns the params that open it"
)


def loaded(bench: Workbench) -> PosterDataset:
    return bench.once("dataset", lambda: bench.make().load(list(DEFAULT_GENRES)))


@contextlib.contextmanager
def working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@check(
    "dataset",
    contract="load(labels) returns a PosterDataset of at least one poster: labels as given, unique ids, image files "
    "that open, and each poster's genres a non-empty tuple of the label set in label-set order",
    fix="build the dataset with mmgenre.data.dataset helpers (read_labels_csv, or Poster / PosterDataset) and keep "
    "only genres of `labels`",
)
def loads_posters(bench: Workbench) -> None:
    dataset = loaded(bench)
    expect(isinstance(dataset, PosterDataset), f"load() returned {type(dataset).__name__}, not a PosterDataset")
    expect(len(dataset.posters) > 0, "no posters", fix=SOURCE_FIX)
    labels = list(DEFAULT_GENRES)
    expect(list(dataset.labels) == labels, f"labels {dataset.labels} for the label set {labels}")
    ids = [poster.id for poster in dataset.posters]
    expect(len(set(ids)) == len(ids), f"ids repeat: {sorted(i for i in set(ids) if ids.count(i) > 1)[:5]}")
    for poster in dataset.posters:
        ordered = tuple(label for label in labels if label in poster.genres)
        expect(poster.genres and poster.genres == ordered, f"poster {poster.id} has the genres {poster.genres!r}")
        try:
            with Image.open(poster.path) as image:
                image.verify()
        except Exception as error:
            expect(False, f"poster {poster.id}: {poster.path} does not open as an image ({error})")


@check(
    "dataset",
    contract="load() sets `dataset.reference` ({'name': the source's name, 'params': ...}, kept in run folders), "
    "and a source made from that reference opens the same posters from another working directory (the source "
    "was opened with a relative `path`)",
    fix="set dataset.reference = self.reference() in load(), and store absolute paths in reference()",
)
def reference_reopens_the_same_posters(bench: Workbench) -> None:
    params = bench.params_data()
    with working_directory(bench.folder):  # a user's relative path: the reference must not depend on it
        relative = {**params, "path": os.path.relpath(params["path"])} if "path" in params else params
        dataset = bench.make_from(relative).load(list(DEFAULT_GENRES))
        before = [(p.id, Path(p.path).resolve(), p.genres) for p in dataset.posters]
    reference = dataset.reference
    expect(isinstance(reference, dict) and reference.get("name") == bench.component.name, f"reference = {reference!r}")
    with working_directory(bench.scratch("elsewhere")):
        again = bench.make_from(reference.get("params", {})).load(list(DEFAULT_GENRES))
        after = [(p.id, Path(p.path).resolve(), p.genres) for p in again.posters]
    expect(before == after, f"{len(before)} posters first, {len(after)} from the reference ({after[:2]}...)")


@check(
    "dataset",
    contract="a `path` that does not exist is a DatasetError (printed as 'Error: ...'), not a traceback",
    fix="check the location in load() and raise mmgenre.errors.DatasetError saying what was expected there",
    applies=lambda bench: "path" in bench.component.Params.model_fields,
)
def missing_location_is_a_dataset_error(bench: Workbench) -> None:
    missing = bench.scratch("missing") / "no-such-dataset"
    try:
        bench.make(path=str(missing)).load(list(DEFAULT_GENRES))
    except DatasetError:
        return
    except Exception as error:
        expect(False, f"load() raised {type(error).__name__}: {error}")
    expect(False, f"load() of {missing} returned a dataset")
