"""Issue 20, tried as a hostile user would: shared recipes, run folders, shards and output paths never lose the
user's data, hang, crash with a traceback, or turn into NaN scores with exit 0. Each test breaks one promise
of the README's "What mmgenre promises" by hand; the last ones throw generated files at every reader."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import POSTERS, poster_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reliability import assert_error, mmgenre, snapshot

USER = b"user data\n"
HANG = 60  # seconds: a command that takes longer than this on a tiny input is hanging


def poster(n: int = 0) -> Path:
    return POSTERS / poster_rows(1, start=n)[0]["file"]


def own_copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


# 1. --overwrite replaces only a folder mmgenre marked, and in it only the files it wrote ---------------------


def test_overwrite_never_replaces_a_folder_because_of_its_file_names(
    cli, tiny_recipe, posters_dir, session_cache, tmp_path
):
    look = tmp_path / "look"
    look.mkdir()
    for name in ("run.json", "recipe.yaml", "model.safetensors", "metrics.json"):
        (look / name).write_bytes(USER)
    before = snapshot(look)
    result = cli("train", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--out", look,
                 "--overwrite", "--set", "train.max_epochs=1")  # fmt: skip
    assert_error(result, str(look), "not written by mmgenre")
    assert snapshot(look) == before


def test_in_a_run_folder_only_the_files_mmgenre_wrote_are_replaced(cli, tiny_run, posters_dir, session_cache, tmp_path):
    run = own_copy(tiny_run[0], tmp_path)
    (run / "eval-test.json").write_bytes(USER)  # the user's file, named like one of ours
    (run / "notes.txt").write_bytes(USER)
    assert_error(cli("eval", run, "--cache-dir", session_cache), "eval-test.json", "not written")
    assert (run / "eval-test.json").read_bytes() == USER
    marker = json.loads((run / ".mmgenre-run").read_text())
    assert "model.safetensors" in marker["files"] and "eval-test.json" not in marker["files"]
    (run / "eval-test.json").unlink()
    assert cli("eval", run, "--cache-dir", session_cache).exit_code == 0
    assert "eval-test.json" in json.loads((run / ".mmgenre-run").read_text())["files"]
    assert cli("eval", run, "--cache-dir", session_cache).exit_code == 0  # ours: replaced
    assert (run / "notes.txt").read_bytes() == USER


# 2. predict --out resumes only a file mmgenre wrote ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content",
    [
        ("m.jsonl", b'{"file": "a.jpg", "label": "cat"}\n{"file": "b.jpg", "label": "dog"}'),
        ("m.csv", b"file\na.jpg\nb.jpg"),
        ("complete.jsonl", b'{"file": "a.jpg"}\n'),
    ],
)
def test_predict_never_resumes_a_file_it_did_not_write(name, content, cli, tiny_run, session_cache, tmp_path):
    (tmp_path / "images").mkdir()
    shutil.copy(poster(), tmp_path / "images" / "p.jpg")
    out = tmp_path / name
    out.write_bytes(content)
    result = cli("predict", tiny_run[0], "--data", tmp_path / "images", "--out", out, "--cache-dir", session_cache)
    assert_error(result, str(out), "not written by mmgenre")
    assert out.read_bytes() == content


def test_predict_resumes_its_own_file_after_a_kill(cli, tiny_run, session_cache, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for n in range(3):
        shutil.copy(poster(n), images / f"p{n}.jpg")
    out = tmp_path / "p.jsonl"
    args = ("predict", tiny_run[0], "--data", images, "--out", out, "--cache-dir", session_cache)
    assert cli(*args).exit_code == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # killed while writing the third row
    assert cli(*args).exit_code == 0
    assert sorted(json.loads(line)["file"] for line in out.read_text().splitlines()) == sorted(
        str(images / f"p{n}.jpg") for n in range(3)
    )


# 3. cache export never deletes a shard it did not write; 8. a FIFO among shards never blocks -----------------


def test_cache_export_adds_and_never_deletes(cli, tiny_run, session_cache, tmp_path):
    folder = tmp_path / "ex"
    first = cli("cache", "export", folder, "--cache-dir", session_cache, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["entries"] > 0
    ours = sorted(folder.glob("export-*.parquet"))
    foreign = folder / "export-from-machine-b.parquet"
    shutil.copy(ours[0], foreign)
    before = snapshot(folder)
    again = cli("cache", "export", folder, "--cache-dir", session_cache, "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["entries"] == 0 and report["already_there"] >= json.loads(first.stdout)["entries"]
    assert {k: v for k, v in snapshot(folder).items() if k in before} == before  # nothing replaced or deleted
    fresh = tmp_path / "fresh-cache"
    imported = cli("cache", "import", folder, "--cache-dir", fresh, "--json")
    assert imported.exit_code == 0 and json.loads(imported.stdout)["new_entries"] == json.loads(first.stdout)["entries"]


def test_a_fifo_named_like_a_shard_is_refused_without_blocking(cli, tiny_run, session_cache, tmp_path):
    folder = tmp_path / "ex"
    assert cli("cache", "export", folder, "--cache-dir", session_cache).exit_code == 0
    os.mkfifo(folder / "a.parquet")
    started = time.monotonic()
    result = mmgenre("cache", "import", folder, "--cache-dir", tmp_path / "fresh", timeout=HANG)
    assert time.monotonic() - started < HANG
    assert_error(result, "a.parquet", "FIFO", "the others were imported")
    assert (folder / "a.parquet").exists()
    assert cli("cache", "info", "--cache-dir", tmp_path / "fresh", "--json").exit_code == 0


# 4. bench never overwrites a file, even one named like its own ----------------------------------------------


def test_bench_never_overwrites_files_named_like_its_own(cli, posters_dir, session_cache, tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    now = datetime.now()
    for second in range(-2, 120):  # every name the bench could pick in the next two minutes
        stem = f"ocr-{now + timedelta(seconds=second):%Y%m%d-%H%M%S}"
        (out / f"{stem}.png").write_bytes(USER)
    before = snapshot(out)
    result = cli("bench", "ocr", "--engines", "tesseract", "--data", posters_dir, "--limit", "2", "--workers", "1",
                 "--cache-dir", session_cache, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k in before} == before
    new = sorted(set(after) - set(before))
    assert len(new) == 2 and Path(new[0]).stem == Path(new[1]).stem


# 5. a recipe name never leads a run folder out of runs/ ----------------------------------------------------


@pytest.mark.parametrize("name", ["../../../../../tmp/escaped-mmgenre", "/tmp/escaped-mmgenre", "a/b", "..", ""])
def test_recipe_names_are_slugs(name, cli, posters_dir, session_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"extends: {Path(__file__).parent / 'recipes' / 'tiny.yaml'}\nname: {json.dumps(name)}\n")
    result = cli("train", recipe, "--data", posters_dir, "--cache-dir", session_cache, "--set", "train.max_epochs=1")
    if name == "":  # no name: the run is called "run"
        assert result.exit_code == 0, result.stderr
        assert [p.name.startswith("run-") for p in (tmp_path / "runs").iterdir()] == [True]
        return
    assert_error(result, "bad value at name", "slug")
    assert not Path("/tmp/escaped-mmgenre").exists() and not (tmp_path / "runs").exists()


# 7. YAML aliases never expand without bound ------------------------------------------------------------------


def alias_bomb(levels: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, fragment",
    [
        (alias_bomb(), "expands into more than"),
        ("extends: paper-offline\nx: &x [*x]\n", "contains itself"),
        ("extends: paper-offline\nx: &x {a: *x}\n", "contains itself"),
    ],
)
def test_yaml_aliases_are_bounded(text, fragment, tmp_path):
    (tmp_path / "bomb.yaml").write_text(text)
    started = time.monotonic()
    result = mmgenre("recipe", "show", tmp_path / "bomb.yaml", "--resolved", timeout=HANG)
    assert time.monotonic() - started < 20
    assert_error(result, "bomb.yaml", fragment)


# Training settings out of range ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, key",
    [
        ("train.lr=.nan", "train.lr"),
        ("train.lr=.inf", "train.lr"),
        ("train.lr=0", "train.lr"),
        ("train.betas=[1.0, 0.5]", "train.betas.0"),
        ("train.betas=[0.9, -0.1]", "train.betas.1"),
        ("train.seed=-1", "train.seed"),
        (f"train.seed={2**32}", "train.seed"),
        ("train.device=gpu0", "train.device"),
        ("features.device=cuda:x", "features.device"),
        ("train.max_epochs=0", "train.max_epochs"),
        ("train.weight_decay=.nan", "train.weight_decay"),
        ("data.labels=[Drama, Drama]", "data.labels"),
        ("data.labels=['Drama|Comedy']", "data.labels.0"),
        ("data.max_pixels=100000000000", "data.max_pixels"),
        ("fusion.params.dropout=.nan", "dropout"),
    ],
)
def test_training_settings_out_of_range_are_refused_before_any_work(setting, key, cli, tiny_recipe, tmp_path):
    result = cli("train", tiny_recipe, "--data", tmp_path / "no-such-data", "--out", tmp_path / "run", "--set", setting)
    assert_error(result, key)
    assert not (tmp_path / "run").exists()


# Tampered run folders ----------------------------------------------------------------------------------------


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def set_in(name: str, *path_and_value):
    *path, key, value = path_and_value

    def change(run: Path) -> None:
        def edit(data):
            for part in path:
                data = data[part]
            data[key] = value(data) if callable(value) else value

        edit_json(run / name, edit)

    return change


def write(name: str, content):
    """Replace a run file with `content` (text or bytes, or a function of the file's path giving either)."""

    def change(run: Path) -> None:
        new = content(run / name) if callable(content) else content
        (run / name).write_bytes(new if isinstance(new, bytes) else new.encode())

    return change


def replace_with(make):
    def change(run: Path) -> None:
        (run / "run.json").unlink()
        make(run / "run.json")

    return change


def nan_seconds(path: Path) -> str:
    return path.read_text().replace('"seconds": ', '"seconds": NaN, "x": ')


TAMPERING = {
    "labels twice": (set_in("run.json", "labels", 1, lambda labels: labels[0]), "named twice"),
    "negative width": (set_in("run.json", "dims", "image", -5), "dims.image"),
    "huge width": (set_in("run.json", "dims", "image", 10**9), "dims.image"),
    "NaN seconds": (write("run.json", nan_seconds), "NaN"),
    "deep JSON": (write("run.json", "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "run.json a list": (write("run.json", "[1, 2]"), "JSON object"),
    "other genres": (set_in("run.json", "labels", lambda d: [f"G{i}" for i in range(len(d["labels"]))]), "different"),
    "threshold NaN": (write("thresholds.json", '{"Drama": NaN}'), "NaN"),
    "threshold 7": (set_in("thresholds.json", "Drama", 7), "from 0 to 1"),
    "run.json a folder": (replace_with(Path.mkdir), "not a regular file"),
    "run.json a FIFO": (replace_with(os.mkfifo), "not a regular file"),
    "weights truncated": (write("model.safetensors", lambda p: p.read_bytes()[:100]), "model.safetensors"),
}


@pytest.mark.parametrize("damage", sorted(TAMPERING))
def test_a_tampered_run_folder_is_one_clear_error(damage, tiny_run, session_cache, tmp_path):
    run = own_copy(tiny_run[0], tmp_path)
    tamper, fragment = TAMPERING[damage]
    tamper(run)
    result = mmgenre("predict", run, poster(), "--cache-dir", session_cache, timeout=HANG)
    assert_error(result, str(run), fragment)


def test_non_finite_weights_are_refused_naming_the_file(cli, tiny_run, session_cache, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    run = own_copy(tiny_run[0], tmp_path)
    state = load_file(str(run / "model.safetensors"))
    name = next(key for key, value in state.items() if value.is_floating_point())
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(run / "model.safetensors"))
    result = cli("predict", run, poster(), "--cache-dir", session_cache, "--json")
    assert_error(result, "model.safetensors", "not finite", name)
    assert "nan" not in result.stdout.lower()


# Non-finite or damaged features: never NaN scores ------------------------------------------------------------


def test_non_finite_cached_features_are_never_scored(cli, tiny_run, session_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(session_cache, cache)
    with sqlite3.connect(cache / "features.sqlite") as db:
        rows = db.execute("SELECT namespace, key, meta FROM entries WHERE meta LIKE '%dtype%'").fetchall()
        for namespace, key, meta in rows:
            shape, dtype = json.loads(meta)["shape"], json.loads(meta)["dtype"]
            db.execute(
                "UPDATE entries SET data = ? WHERE namespace = ? AND key = ?",
                (np.full(shape, np.nan, dtype=dtype).tobytes(), namespace, key),
            )
    result = cli("predict", tiny_run[0], poster(), "--cache-dir", cache, "--json")
    assert result.exit_code == 1 and "nan" not in result.stdout.lower()
    assert "can't be used" in result.stderr and str(cache) in result.stderr


def test_shard_rows_that_are_not_entries_are_left_out(tmp_path):
    from mmgenre.features.cache import FeatureCache
    from mmgenre.features.codec import pack
    from mmgenre.features.shards import ingest, write_shard

    good = ("good", *pack(np.ones(4)))
    bad = [
        ("nan", {"dtype": "float32", "shape": [4]}, np.full(4, np.nan, np.float32).tobytes()),
        ("short", {"dtype": "float32", "shape": [400]}, b"1234"),
        ("object", {"dtype": "object", "shape": [1]}, b"12345678"),
        ("huge", {"dtype": "float16", "shape": [2**20, 2**20]}, b""),
        ("no text", {"words": []}, b""),
    ]
    write_shard(tmp_path, {"image_encoder/x/1/pooled": [good, *bad]})
    with FeatureCache(tmp_path / "cache") as cache:
        report = ingest(tmp_path, cache)
        assert report.entries == 1 and not report.bad
        assert list(cache.get_many("image_encoder/x/1/pooled", ["good", *[b[0] for b in bad]])) == ["good"]


# Output paths that cannot be written -------------------------------------------------------------------------


def test_output_paths_that_cannot_be_written_fail_before_any_work(cli, tiny_run, tiny_recipe, posters_dir, tmp_path):
    file = tmp_path / "file"
    file.write_bytes(USER)
    run = tiny_run[0]
    cases = [
        (("train", tiny_recipe, "--data", posters_dir, "--out", file / "run"), "is a file, not a folder"),
        (("train", tiny_recipe, "--data", posters_dir, "--out", tmp_path / ("x" * 300)), "too long"),
        (("predict", run, poster(), "--out", tmp_path / "no" / "such" / "p.csv"), "does not exist"),
        (("predict", run, poster(), "--out", file / "p.csv"), "p.csv"),
        (("cache", "export", file / "ex"), "is a file, not a folder"),
    ]
    for args, fragment in cases:
        assert_error(cli(*args, "--cache-dir", tmp_path / "cache"), fragment)
    assert file.read_bytes() == USER and sorted(p.name for p in tmp_path.iterdir()) == ["cache", "file"]


# The CLI boundary --------------------------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_with_its_own_exit_code(cli, monkeypatch):
    import mmgenre.registry

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(mmgenre.registry.Registry, "from_entry_points", broken)
    result = cli("list")
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Internal error: ZeroDivisionError: a bug")
    assert "--debug" in result.stderr
    with pytest.raises(ZeroDivisionError):
        cli("--debug", "list")


def test_usage_errors_exit_2_and_nothing_produced_exits_1(cli, tiny_run, session_cache, tmp_path):
    assert cli("train", "--no-such-option").exit_code == 2
    not_a_poster = tmp_path / "p.jpg"
    not_a_poster.write_bytes(b"not an image")
    assert_error(cli("predict", tiny_run[0], not_a_poster, "--cache-dir", session_cache), "none of the 1 posters")
    assert_error(cli("cache", "export", tmp_path / "ex", "--cache-dir", tmp_path / "empty"), "nothing to export")
    assert not (tmp_path / "ex").exists()


# Every reader, given generated files -------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
RUN_KEYS = ["labels", "dims", "data", "splits", "train_genre_counts", "limit", "best_epoch", "seconds", "format"]


@FUZZ
@given(st.dictionaries(st.sampled_from(RUN_KEYS), JSON, max_size=9))
def test_any_run_json_is_read_or_refused_with_a_run_error(data):
    from mmgenre.errors import RunError
    from mmgenre.training.run_info import RunInfo

    try:
        info = RunInfo.from_json(data, Path("run.json"))
    except RunError as error:
        assert "\n" not in str(error)
        return
    assert len(set(info.labels)) == len(info.labels) > 0 and all(
        w is None or 1 <= w <= 2**16 for w in info.dims.model_dump().values()
    )


@FUZZ
@given(JSON, st.binary(max_size=64))
def test_any_cache_entry_is_an_array_of_finite_numbers_or_refused(meta, data):
    from mmgenre.features.codec import DamagedEntry, unpack

    try:
        array = unpack(meta, data)
    except DamagedEntry:
        return
    assert np.isfinite(array).all() and array.dtype in (np.float16, np.float32)


@FUZZ
@given(st.text(max_size=300))
def test_any_recipe_text_is_parsed_or_refused_with_a_recipe_error(text):
    from mmgenre.errors import RecipeError
    from mmgenre.recipe import parse_yaml

    with contextlib.suppress(RecipeError):
        parse_yaml(text, "r.yaml")


@FUZZ
@given(st.binary(max_size=300))
def test_any_marker_or_namespaces_file_is_read_or_ignored(tmp_path_factory, content):
    from mmgenre.features.shards import read_namespaces
    from mmgenre.files.writer import OutputFolder

    folder = tmp_path_factory.mktemp("f")
    (folder / ".mmgenre-run").write_bytes(content)
    (folder / "namespaces.json").write_bytes(content)
    assert isinstance(OutputFolder(folder, "run").owned(), set)
    assert isinstance(read_namespaces(folder), list)


def test_the_bounded_reader_refuses_what_is_not_a_small_regular_file(tmp_path):
    from mmgenre.files.reader import ReadError, read_json

    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "big.json").write_text("[" + "0," * 1000 + "0]")
    (tmp_path / "nan.json").write_text('{"a": NaN}')
    (tmp_path / "dir.json").mkdir()
    cases = {"fifo.json": "a FIFO", "big.json": "MB", "nan.json": "NaN", "dir.json": "not a regular file"}
    for name, fragment in cases.items():
        with pytest.raises(ReadError, match=fragment):
            read_json(tmp_path / name, limit=1000)


# Plugins with odd names, or that fail while registering, are left out alone ---------------------------------


def test_a_plugin_with_an_odd_name_or_a_failing_hook_is_left_out_alone(caplog):
    import logging
    import types

    from mmgenre.components import KINDS
    from mmgenre.hookspecs import hookimpl
    from mmgenre.registry import Registry, load_plugins

    manager, plugins = load_plugins()
    bce = Registry(manager, plugins).get("loss", "bce")
    odd = [type(f"Odd{i}", (bce,), {"name": name}) for i, name in enumerate(["../evil", "a b", "x" * 65, "Ünï"])]
    hook = KINDS["loss"].hook

    def register_odd(register):
        for component in odd:
            register(component)

    def fail(register):
        raise RuntimeError("this plugin is broken")

    manager.register(types.SimpleNamespace(**{hook: hookimpl(register_odd)}), name="odd-names")
    manager.register(types.SimpleNamespace(**{hook: hookimpl(fail)}), name="broken")
    logger = logging.getLogger("mmgenre")  # said on stderr as WARNING lines, not as Python warnings
    logger.addHandler(caplog.handler)
    try:
        registry = Registry(manager, plugins)
    finally:
        logger.removeHandler(caplog.handler)
    assert registry.names("loss") == sorted(["asl", "bce", "focal"])
    said = " ".join(record.getMessage() for record in caplog.records)
    assert "'../evil'" in said and "this plugin is broken" in said
