"""Dataset folders: bad input is skipped with a clear warning and a summary, never a crash."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from bad_inputs import EXPECTED, build_bad_folder
from PIL import Image

from mmgenre import DEFAULT_GENRES
from mmgenre.data.dataset import load_dataset
from mmgenre.data.images import BadImage, load_image
from mmgenre.data.splits import split_indices
from mmgenre.errors import DatasetError
from mmgenre.recipe import SplitSpec


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    return build_bad_folder(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_image_is_decoded_or_refused_with_its_reason(bad_folder, name):
    expected = EXPECTED[name]
    if expected is None:
        image = load_image(bad_folder / name)
        assert image.mode == "RGB" and min(image.size) >= 32
        assert np.asarray(image).std() > 5  # real content survived the conversion
    else:
        with pytest.raises(BadImage) as error:
            load_image(bad_folder / name)
        assert error.value.category == expected


def test_sixteen_bit_and_transparent_images_keep_their_brightness(bad_folder):
    gray = np.asarray(load_image(bad_folder / "gray.jpg"), dtype=float)
    sixteen = np.asarray(load_image(bad_folder / "sixteen_bit.png"), dtype=float)
    assert abs(gray.mean() - sixteen.mean()) < 3  # scaled down from 16 bits, not clipped to white
    assert load_image(bad_folder / "transparent.png").getpixel((0, 0)) != (0, 0, 0)  # composited on white


def test_labels_csv_problems_are_warned_about_row_by_row(bad_folder, caplog):
    with caplog.at_level(logging.DEBUG, logger="mmgenre"):
        dataset = load_dataset(bad_folder, list(DEFAULT_GENRES))
    files = {p.path.name for p in dataset.posters}
    assert "absent.jpg" not in files and "other.jpg" not in files and "typo.jpg" not in files
    counts = dataset.skips.counts()
    assert counts["duplicate row"] == 2 and counts["missing file"] == 1 and counts["no file name"] == 1
    assert counts["no genres"] == 1 and counts["no genre of the label set"] == 2
    text = caplog.text
    assert "labels.csv line 19: duplicate row (good1.jpg already on line 2, different genres" in text
    assert "unknown genre 'Dramma' ignored (did you mean 'Drama'?)" in text
    assert "absent.jpg: missing file" in text
    assert dataset.ignored_genres["Documentary"] == 1  # the duplicate row is skipped before its genres are read


def test_features_skip_bad_images_and_process_the_rest(cli, bad_folder, tmp_path, tiny_recipe):
    result = cli(
        "features",
        tiny_recipe,
        "--data",
        bad_folder,
        "--set",
        "fusion.name=image-only",
        "--cache-dir",
        tmp_path,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    good = [name for name, reason in EXPECTED.items() if reason is None]
    assert summary["with_features"] == len(good)
    skipped = summary["skipped"]
    for reason in set(EXPECTED.values()) - {None}:
        assert skipped.get(reason, 0) >= 1, reason
    for name in ("zero.jpg", "text.jpg", "truncated.jpg", "tiny.jpg", "bomb.png"):
        assert name in result.stderr


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("path,genres\na.jpg,Drama\n", "lacks the column(s) file"),
        ("file\na.jpg\n", "lacks the column(s) genres"),
        ("", "lacks the column(s) file, genres"),
    ],
)
def test_unusable_labels_csv_is_a_clear_error(tmp_path, csv, message):
    (tmp_path / "labels.csv").write_text(csv)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(tmp_path, list(DEFAULT_GENRES))


def test_non_utf8_labels_csv_is_a_clear_error(tmp_path):
    (tmp_path / "labels.csv").write_bytes("file,genres\nCaf\xe9.jpg,Drama\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(tmp_path, list(DEFAULT_GENRES))


def test_missing_folder_and_missing_labels_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope", ["Drama"])
    with pytest.raises(DatasetError, match="has no labels.csv"):
        load_dataset(tmp_path, ["Drama"])


def test_genres_are_matched_to_the_label_set_loosely(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "a.jpg")
    (tmp_path / "labels.csv").write_text("file,genres\na.jpg, sci-fi | THRILLER \n")
    dataset = load_dataset(tmp_path, list(DEFAULT_GENRES))
    assert dataset.posters[0].genres == ("Sci-Fi", "Thriller")


def test_splits_are_seeded_disjoint_and_stratified(posters_dir):
    targets = load_dataset(posters_dir, list(DEFAULT_GENRES)).targets()
    rng = np.random.default_rng(0)
    many = np.concatenate([targets] * 20)[rng.permutation(len(targets) * 20)]  # 1,440 rows
    spec = SplitSpec(train=0.7, val=0.1, test=0.2, seed=3)
    first, second = split_indices(many, spec), split_indices(many, spec)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert sum(len(v) for v in first.values()) == len(many)
    assert not set(first["train"]) & set(first["test"]) and not set(first["val"]) & set(first["test"])
    assert abs(len(first["test"]) / len(many) - 0.2) < 0.01
    overall, test = many.mean(axis=0), many[first["test"]].mean(axis=0)
    assert np.abs(overall - test).max() < 0.02  # each genre's share is kept in the test split
    other = split_indices(many, SplitSpec(seed=4))
    assert not np.array_equal(other["test"], first["test"])
