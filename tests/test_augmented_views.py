"""train.augmented_views: augmented copies of the training posters (mmgenre/data/augment.py), on real posters."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import POSTERS, poster_rows, train_cli, write_dataset
from PIL import Image

from mmgenre.data.augment import jpeg_bytes, recompress
from mmgenre.data.images import content_hash, decode_image
from mmgenre.errors import RecipeError
from mmgenre.features.sources import ImageOptions, poster_source
from mmgenre.recipe import AugmentedViews, load_recipe

DEFAULT_COPY_1 = "@v1-ace04bf1409e"  # the default spec's first copy: a change here invalidates every cached view


def poster_files(count: int) -> list[Path]:
    return [POSTERS / row["file"] for row in poster_rows(count)]


def view_of(path: Path, **settings):
    """Copy 1 of a view spec applied to a poster file."""
    view = AugmentedViews(**settings).views()[-1]
    return ImageOptions(view=view).decode(path.read_bytes())


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from mmgenre.features.sources import ImageOptions
from mmgenre.recipe import AugmentedViews
out = {}
for view in AugmentedViews(copies=2).views():
    for name in sys.argv[1:]:
        image = ImageOptions(view=view).decode(Path(name).read_bytes())
        out[name + view.key_suffix()] = [hashlib.sha256(image.tobytes()).hexdigest(), list(image.size)]
print(json.dumps(out))
"""


def test_a_view_is_the_same_in_another_process():
    files = poster_files(3)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a salted hash() would give other keys and seeds there
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, files)], capture_output=True, text=True, env=env, check=True
    )
    theirs = json.loads(result.stdout)
    ours = {}
    for view in AugmentedViews(copies=2).views():
        for path in files:
            image = ImageOptions(view=view).decode(path.read_bytes())
            ours[str(path) + view.key_suffix()] = [hashlib.sha256(image.tobytes()).hexdigest(), list(image.size)]
    assert theirs == ours and len(ours) == 6


def test_the_key_suffix_is_fixed_and_distinct_per_copy_and_per_setting():
    views = AugmentedViews(copies=3).views()
    suffixes = [view.key_suffix() for view in views]
    assert suffixes[0] == DEFAULT_COPY_1
    assert [s.split("-")[0] for s in suffixes] == ["@v1", "@v2", "@v3"] and len(set(suffixes)) == 3
    others = [
        AugmentedViews(jitter=0.3),
        AugmentedViews(flip=True),
        AugmentedViews(width=(150, 251)),
        AugmentedViews(jpeg=None),
        AugmentedViews(aspect=(0.75, 1.25)),
    ]
    assert len({v.views()[0].key_suffix() for v in others} | {DEFAULT_COPY_1}) == len(others) + 1
    assert AugmentedViews(jitter=0.2, width=[150, 250]).views()[0].key_suffix() == DEFAULT_COPY_1  # values, not types


def test_plain_and_downscaled_keys_are_unchanged():
    path = poster_files(1)[0]
    plain = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    assert poster_source(path, ImageOptions()).key == plain
    assert poster_source(path, ImageOptions(resize_to=182)).key == plain + "@w182"
    view = AugmentedViews().views()[0]
    assert poster_source(path, ImageOptions(view=view)).key == plain + DEFAULT_COPY_1
    assert ImageOptions().as_stored and not ImageOptions(view=view).as_stored  # views skip the GPU JPEG decoder


def test_copies_of_a_poster_differ_and_each_is_a_changed_poster():
    for path in poster_files(3):
        original = decode_image(path.read_bytes())
        one, two = (ImageOptions(view=v).decode(path.read_bytes()) for v in AugmentedViews(copies=2).views())
        assert one.mode == two.mode == "RGB"
        assert one.size != two.size or not np.array_equal(pixels(one), pixels(two))
        assert one.size != original.size or not np.array_equal(pixels(one), pixels(original))


def test_the_width_lands_in_its_range_and_varies():
    widths = []
    wide = [path for path in poster_files(8) if decode_image(path.read_bytes()).width > 250]  # can reach the range
    assert len(wide) >= 4
    for path in wide[:4]:
        for view in AugmentedViews(copies=4, crop=1, width=(150, 250)).views():
            widths.append(ImageOptions(view=view).decode(path.read_bytes()).width)
        cropped = [ImageOptions(view=v).decode(path.read_bytes()).width for v in AugmentedViews(copies=2).views()]
        assert all(width <= 250 for width in cropped)
    assert all(150 <= width <= 250 for width in widths) and len(set(widths)) > 5


def test_jpeg_recompression_uses_the_drawn_quality():
    path = poster_files(1)[0]
    original = decode_image(path.read_bytes())
    only_jpeg = {"crop": 1, "jitter": 0, "trivial": False, "width": None}
    low, high = view_of(path, jpeg=(30, 30), **only_jpeg), view_of(path, jpeg=(90, 90), **only_jpeg)
    assert low.size == high.size == original.size
    assert np.array_equal(pixels(low), pixels(recompress(original, 30)))  # re-encoded at exactly that quality
    error = [np.abs(pixels(view) - pixels(original)).mean() for view in (low, high)]
    assert error[0] > error[1] > 0  # the lower quality loses more, and both lose something
    assert len(jpeg_bytes(original, 30)) < min(len(jpeg_bytes(original, 90)), path.stat().st_size)


@pytest.mark.parametrize(
    "setting, expected",
    [
        ("train.augmented_views={copies: 0}", "train.augmented_views.copies .*greater than or equal to 1"),
        ("train.augmented_views={copies: 9}", "train.augmented_views.copies .*less than or equal to 8"),
        ("train.augmented_views={width: [250, 150]}", r"width: the first value \(250\) is above the second \(150\)"),
        ("train.augmented_views={jpeg: [0, 90]}", r"train.augmented_views.jpeg.0 .*greater than or equal to 1"),
        ("train.augmented_views={crop: 0}", "train.augmented_views.crop .*greater than 0"),
        ("train.augmented_views={copys: 2}", "unknown key 'train.augmented_views.copys'.*Did you mean 'copies'"),
        (
            "train.augmented_views={crop: 1, jitter: 0, trivial: false, width: null, jpeg: null}",
            "every augmentation is off",
        ),
    ],
)
def test_the_recipe_rejects_bad_settings_naming_them(setting, expected):
    with pytest.raises(RecipeError, match=expected) as error:
        load_recipe("paper-offline", [setting])
    assert f"--set {setting}" in str(error.value)


def test_the_setting_is_off_by_default_and_set_key_by_key():
    assert load_recipe("paper-offline").spec.train.augmented_views is None
    views = load_recipe("paper-offline", ["train.augmented_views.copies=3", "train.augmented_views.flip=true"])
    spec = views.spec.train.augmented_views
    assert spec is not None and spec.copies == 3 and spec.flip and len(spec.views()) == 3


def keys_in(cache: Path, namespace: str) -> set[str]:
    with sqlite3.connect(cache / "features.sqlite") as db:
        return {key for (key,) in db.execute("SELECT key FROM entries WHERE namespace LIKE ?", (namespace + "/%",))}


def test_training_adds_one_row_per_training_poster_and_copy(cli, tiny_recipe, tmp_path):
    data, cache = write_dataset(tmp_path / "posters", poster_rows(12)), tmp_path / "cache"
    trained = train_cli(
        tiny_recipe, data, cache, tmp_path / "aug", "train.augmented_views={copies: 1}", "train.max_epochs=2"
    )
    assert trained.exit_code == 0, trained.stderr
    run = tmp_path / "aug"
    info = json.loads((run / "run.json").read_text())
    train = info["splits"]["train"]
    assert info["train_views"] == {DEFAULT_COPY_1: len(train)} and len(train) >= 6  # K x the training rows
    saved = yaml.safe_load((run / "recipe.yaml").read_text())["train"]["augmented_views"]
    assert saved["copies"] == 1 and AugmentedViews(**saved).views()[0].key_suffix() == DEFAULT_COPY_1

    files = {row["imdb_id"]: POSTERS / row["file"] for row in poster_rows(12)}
    key = {poster: content_hash(path.read_bytes()) for poster, path in files.items()}
    viewed = {key[poster] + DEFAULT_COPY_1 for poster in train}
    assert viewed <= keys_in(cache, "ocr") and viewed <= keys_in(cache, "image_encoder")  # OCR read the views

    plain = train_cli(tiny_recipe, data, cache, tmp_path / "plain", "train.max_epochs=2")
    assert plain.exit_code == 0 and json.loads((tmp_path / "plain" / "run.json").read_text())["train_views"] == {}
    assert (run / "history.jsonl").read_text() != (tmp_path / "plain" / "history.jsonl").read_text()

    evaluated = cli("eval", run, "--data", data, "--cache-dir", cache, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["macro_f1"] == pytest.approx(json.loads(trained.stdout)["test"]["macro_f1"])
    others = [p for p in files if p not in train]
    predicted = cli("predict", run, *[files[p] for p in others], "--cache-dir", cache, "--json")
    assert predicted.exit_code == 0, predicted.stderr
    assert not {k for k in keys_in(cache, "ocr") if "@v" in k} - viewed  # eval and predict made no views
