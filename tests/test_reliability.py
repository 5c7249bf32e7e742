"""Issue 10, tried as a careless or hostile user would: mmgenre never deletes what isn't its own, never hangs
on a path, and answers damaged input with one `Error:` line (exit 1), never a traceback."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MMGENRE, POSTERS, poster_rows, train_cli, write_dataset
from gemini_server import FakeGemini

TIMEOUT = 180  # seconds a CLI subprocess may take before the test calls it a hang


def assert_error(result, *fragments: str) -> str:
    """Exit 1, no traceback, and exactly one `Error:` line, the last one, holding every fragment."""
    assert result.exit_code == 1, (result.exit_code, result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


class Result:
    """What a CLI subprocess did, shaped like click's test result."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


def mmgenre(*args, timeout: float = TIMEOUT, env: dict | None = None, prefix: tuple = ()):
    """`mmgenre ARGS` in a subprocess (for what could hang or needs its own process), as a click-like result."""
    process = subprocess.run(
        [*prefix, MMGENRE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Result(process.returncode, process.stdout, process.stderr)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) below `folder`."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def user_folder(path: Path) -> Path:
    """A folder holding a user's own work."""
    (path / "sub").mkdir(parents=True)
    (path / "thesis.txt").write_text("four years of work\n")
    (path / "sub" / "data.csv").write_text("a,b\n1,2\n")
    return path


def append_rows(data: Path, *rows: dict) -> None:
    """Add rows (only the columns given; the rest left empty) to a dataset folder's labels.csv."""
    with open(data / "labels.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with open(data / "labels.csv", "a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=header, restval="").writerows(rows)


def quick_train(tiny_recipe, posters_dir, cache, out, *extra: str):
    return train_cli(tiny_recipe, posters_dir, cache, out, "train.max_epochs=1", *extra)


# 1. Nothing that isn't ours is ever deleted ------------------------------------------------------------------


def test_train_out_on_a_folder_with_user_files_stops_before_any_work(cli, tiny_recipe, posters_dir, tmp_path):
    notes = user_folder(tmp_path / "notes")
    before = snapshot(notes)
    result = train_cli(tiny_recipe, posters_dir, tmp_path / "fresh-cache", notes)
    assert_error(result, "--out", "not empty", "thesis.txt")
    assert snapshot(notes) == before
    assert not (tmp_path / "fresh-cache").exists()  # refused before the cache (or the dataset) was opened


def test_train_out_on_the_dataset_folder_deletes_nothing(cli, tiny_recipe, tmp_path, session_cache):
    data = write_dataset(tmp_path / "data", poster_rows(12))
    before = snapshot(data)
    assert_error(train_cli(tiny_recipe, data, session_cache, data), "not empty", "labels.csv")
    assert snapshot(data) == before


def test_overwrite_replaces_only_the_run_files(cli, tiny_recipe, posters_dir, session_cache, tmp_path):
    out = tmp_path / "run"
    assert quick_train(tiny_recipe, posters_dir, session_cache, out, "train.seed=0").exit_code == 0
    (out / "notes.txt").write_text("my notes on this run\n")
    assert_error(quick_train(tiny_recipe, posters_dir, session_cache, out), "already holds a run", "--overwrite")
    again = cli(
        "train", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--out", out, "--overwrite",
        "--set", "train.max_epochs=1", "--set", "train.seed=7",
    )  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert (out / "notes.txt").read_text() == "my notes on this run\n"
    assert "seed: 7" in (out / "recipe.yaml").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]


def test_a_crash_while_saving_leaves_a_folder_that_says_it_is_incomplete(
    cli, tiny_recipe, posters_dir, session_cache, tmp_path, monkeypatch
):
    import safetensors.torch

    out = tmp_path / "run"
    assert quick_train(tiny_recipe, posters_dir, session_cache, out).exit_code == 0
    real_replace = os.replace

    def crash_midway(source, target, *args, **kwargs):
        if Path(target).name == "scores.npz":
            raise OSError(28, "No space left on device")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", crash_midway)  # dies while moving the new files in
    overwrite = ["--overwrite", "--set", "train.max_epochs=1"]
    full = cli("train", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--out", out, *overwrite)
    monkeypatch.undo()
    assert_error(full, "no space left on the device")
    assert not (out / "run.json").exists() and (out / ".mmgenre-run").is_file()
    assert_error(cli("eval", out, "--cache-dir", session_cache), "not a complete run folder", "interrupted")
    assert_error(quick_train(tiny_recipe, posters_dir, session_cache, out), "--overwrite")

    monkeypatch.setattr(safetensors.torch, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    fresh = tmp_path / "fresh"
    assert_error(quick_train(tiny_recipe, posters_dir, session_cache, fresh), "disk full")
    monkeypatch.undo()
    assert_error(cli("eval", fresh, "--cache-dir", session_cache), "not a complete run folder")
    assert list(fresh.iterdir()) == []  # nothing half-written; a new train may use it
    assert quick_train(tiny_recipe, posters_dir, session_cache, fresh).exit_code == 0


def test_ablate_report_and_bench_never_write_into_a_foreign_folder(
    cli, tiny_run, tiny_recipe, posters_dir, session_cache, tmp_path
):
    run, _ = tiny_run
    foreign = user_folder(tmp_path / "foreign")
    before = snapshot(foreign)
    ablate = cli(
        "ablate", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--vary", "loss.name=bce",
        "--out", foreign,
    )  # fmt: skip
    assert_error(ablate, "--out", "not empty")
    assert_error(cli("report", run, "--out", foreign, "--cache-dir", session_cache), "--out", "not empty")
    assert_error(cli("report", run, "--out", run, "--cache-dir", session_cache), "--out", "not empty")
    assert snapshot(foreign) == before
    bench = cli(
        "bench", "ocr", "--engines", "tesseract", "--data", posters_dir, "--limit", "2", "--workers", "1",
        "--cache-dir", session_cache, "--out", foreign,
    )  # fmt: skip
    assert bench.exit_code == 0, bench.stderr
    after = snapshot(foreign)
    assert {k: v for k, v in after.items() if k in before} == before  # bench only adds new files
    assert sorted(Path(k).suffix for k in set(after) - set(before)) == [".json", ".png"]


def test_cache_clear_touches_only_features_sqlite(cli, session_cache, tmp_path):
    cache = user_folder(tmp_path / "cache")
    shutil.copy(session_cache / "features.sqlite", cache / "features.sqlite")
    (cache / "features.sqlite.bak").write_bytes(b"the user's own backup")
    before = {k: v for k, v in snapshot(cache).items() if not k.startswith("features.sqlite")}
    result = cli("cache", "clear", "--yes", "--cache-dir", cache)
    assert result.exit_code == 0 and "deleted" in result.stdout
    assert {k: v for k, v in snapshot(cache).items() if not k.startswith("features.sqlite")} == before
    assert (cache / "features.sqlite.bak").read_bytes() == b"the user's own backup"
    assert json.loads(cli("cache", "info", "--cache-dir", cache, "--json").stdout)["namespaces"] == []


def test_predict_out_never_cuts_a_file_that_is_not_ours(cli, tiny_run, session_cache, tmp_path):
    run, poster = tiny_run[0], POSTERS / poster_rows(1)[0]["file"]
    mine = {
        "notes.csv": b"name,notes\nalice,important\nbob,the last line has no newline",
        "log.jsonl": b'{"a": 1}\n{"b": 2',
        "one-line.jsonl": b"my only line",
        "latin.csv": "caf\xe9,cr\xe8me\n".encode("latin-1"),
    }
    for name, content in mine.items():
        (tmp_path / name).write_bytes(content)
        assert_error(cli("predict", run, poster, "--out", tmp_path / name, "--cache-dir", session_cache), name)
        assert (tmp_path / name).read_bytes() == content
    ours = tmp_path / "predictions.csv"
    assert cli("predict", run, poster, "--out", ours, "--cache-dir", session_cache).exit_code == 0
    complete = ours.read_bytes()
    ours.write_bytes(complete + b'/a/poster.jpg,Drama,"SOME TEXT\nON TWO LINES')  # a run killed mid-row
    other = POSTERS / poster_rows(1, start=1)[0]["file"]
    assert cli("predict", run, poster, other, "--out", ours, "--cache-dir", session_cache).exit_code == 0
    rows = list(csv.reader(ours.open(newline="")))
    assert ours.read_bytes().startswith(complete) and [r[0] for r in rows[1:]] == [str(poster), str(other)]


# 2. No hang, no unbounded read: every bad path skipped with its true reason ---------------------------------


def test_predict_skips_fifos_devices_folders_urls_and_huge_files(tiny_run, session_cache, tmp_path):
    run, _ = tiny_run
    good = tmp_path / "good.jpg"
    shutil.copy(POSTERS / poster_rows(1)[0]["file"], good)
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with open(tmp_path / "huge.jpg", "wb") as handle:
        handle.truncate(60 * 2**20)  # sparse: 60 MB that take no disk
    bad = [
        tmp_path / "fifo.jpg",
        "/dev/zero",
        tmp_path / "folder.jpg",
        "http://example.com/p.jpg",
        tmp_path / "huge.jpg",
    ]
    result = mmgenre("predict", run, good, *bad, "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0, result.stderr[-2000:]
    output = json.loads(result.stdout)
    assert [p["file"] for p in output["predictions"]] == [str(good)] and output["predictions"][0]["genres"]
    reasons = {Path(s["where"]).name: s["category"] for s in output["skipped"]}
    assert reasons == {
        "fifo.jpg": "not a regular file",
        "zero": "not a regular file",
        "folder.jpg": "not a file",
        "p.jpg": "not a local file",
        "huge.jpg": "file too large",
    }
    assert "download" in " ".join(s["detail"] for s in output["skipped"])
    assert "skipped 5 of 6 posters" in result.stderr


def test_labels_csv_rows_naming_a_fifo_or_an_overlong_name_are_skipped(cli, tiny_run, session_cache, tmp_path):
    run, _ = tiny_run
    data = write_dataset(tmp_path / "data", poster_rows(6))
    os.mkfifo(data / "fifo.jpg")
    append_rows(data, {"file": "fifo.jpg", "genres": "Drama"}, {"file": "x" * 300 + ".jpg", "genres": "Drama"})
    result = cli("eval", run, "--data", data, "--split", "all", "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["posters"] == 6
    assert report["skipped"] == {"not a regular file": 1, "unreadable file": 1}
    assert "fifo.jpg: not a regular file" in result.stderr and "File name too long" in result.stderr


# 3. Damaged run folders, recipes, labels and caches: one `Error:` line naming the file ------------------------


def corrupt(run: Path, damage: str) -> str:
    """Damage one file of a run folder as a crash, an editor or a hostile user would; returns its name."""

    def edit(name: str, change) -> None:
        data = json.loads((run / name).read_text())
        change(data)
        (run / name).write_text(json.dumps(data))

    if damage == "python tag":
        text = (run / "recipe.yaml").read_text()
        (run / "recipe.yaml").write_text(
            text.replace("name: tiny", "name: !!python/object/apply:os.system [touch PWNED]")
        )
        return "recipe.yaml"
    if damage == "broken json":
        (run / "run.json").write_text((run / "run.json").read_text()[:120])
        return "run.json"
    if damage == "future format":
        edit("run.json", lambda d: d.update(format=99, versions={**d["versions"], "mmgenre": "9.1"}))
        return "run.json"
    if damage == "threshold missing":
        edit("thresholds.json", lambda d: d.pop("Drama"))
        return "thresholds.json"
    if damage == "threshold string":
        edit("thresholds.json", lambda d: d.update(Drama="high"))
        return "thresholds.json"
    raise ValueError(damage)


DAMAGES = ["python tag", "broken json", "future format", "threshold missing", "threshold string"]
EXPECTED = {
    "python tag": "python/object",
    "broken json": "not valid JSON",
    "future format": "format 99",
    "threshold missing": "no threshold for Drama",
    "threshold string": "Drama is not a number",
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_run_folders_are_one_clear_error(damage, cli, tiny_run, posters_dir, session_cache, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    name = corrupt(run, damage)
    poster = POSTERS / poster_rows(1)[0]["file"]
    commands = (
        ["eval", run, "--data", posters_dir],
        ["predict", run, poster],
        ["report", run, "--out", tmp_path / "report", "--no-examples"],
    )
    for command in commands:
        line = assert_error(cli(*command, "--cache-dir", session_cache), str(run / name), EXPECTED[damage])
        if damage == "future format":
            assert "9.1" in line and "up to 2" in line  # both versions named
    assert not (tmp_path / "report").exists() and not Path("PWNED").exists()


@pytest.fixture(scope="module")
def tiny_ablation(cli, tiny_recipe, posters_dir, session_cache, tmp_path_factory):
    """A finished one-variant ablation folder and the arguments that made it (which reuse it when run again)."""
    folder = tmp_path_factory.mktemp("ablation") / "abl"
    args = ["ablate", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--vary", "loss.name=bce",
            "--set", "train.max_epochs=1", "--out"]  # fmt: skip
    result = cli(*args, folder)
    assert result.exit_code == 0, result.stderr
    return folder, args


@pytest.mark.parametrize("damage", DAMAGES)
def test_ablate_reusing_a_damaged_run_is_one_clear_error(damage, cli, tiny_ablation, tmp_path):
    folder, args = tiny_ablation
    copy = tmp_path / "abl"
    shutil.copytree(folder, copy)
    run = copy / "loss-bce-seed0"
    name = corrupt(run, damage)
    before = snapshot(run)
    assert_error(cli(*args, copy), str(run / name), EXPECTED[damage], "delete")
    assert snapshot(run) == before  # not trained over


def test_unknown_keys_in_run_json_are_warned_about_and_the_run_still_loads(
    cli, tiny_run, tiny_ablation, posters_dir, session_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("MMGENRE_LOG", "INFO")
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "sparkles": 1, "owner": "someone"}))
    poster = POSTERS / poster_rows(1)[0]["file"]
    for command in (["eval", run, "--data", posters_dir], ["predict", run, poster]):
        result = cli(*command, "--cache-dir", session_cache)
        assert result.exit_code == 0, result.stderr
        assert result.stderr.count("ignoring unknown keys owner, sparkles") == 1
    folder, args = tiny_ablation
    shutil.copytree(folder, tmp_path / "abl")
    reused = tmp_path / "abl" / "loss-bce-seed0" / "run.json"
    reused.write_text(json.dumps({**json.loads(reused.read_text()), "sparkles": 1}))
    result = cli(*args, tmp_path / "abl")
    assert result.exit_code == 0 and "reusing the finished run" in result.stderr
    assert "ignoring unknown keys sparkles" in result.stderr


def test_eval_on_a_run_whose_encoder_changed_names_it_and_both_versions(
    cli, tiny_run, posters_dir, session_cache, tmp_path, monkeypatch
):
    from mmgenre_offline_encoders.efficientnet_lite import EfficientNetLite

    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    then = json.loads((run / "run.json").read_text())["components"]["image_encoder"]
    monkeypatch.setattr(EfficientNetLite, "version", "99")  # the plugin was upgraded since training
    line = assert_error(cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache), "image encoder")
    assert "'efficientnet-lite' has changed" in line
    assert f"it was version {then['version']}" in line and "it is now version 99" in line
    monkeypatch.undo()
    info = json.loads((run / "run.json").read_text())
    info["components"]["fusion"]["version"] = "0.1-old"  # the head's code changed since
    (run / "run.json").write_text(json.dumps(info))
    assert_error(cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache), "fusion head", "0.1-old")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("extends: paper-offline\nname: café\n".encode("latin-1"), "not UTF-8 text (byte 32)"),
        ("extends: paper-offline\nname: x\n".encode("utf-16"), "not UTF-8 text (byte 0)"),
        ("extends: paper-offline\nname: x\n".encode("utf-16-le"), "NUL bytes: UTF-16?"),
        (("name: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nested too deeply"),
        (("train: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n").encode(), "nested too deeply"),
    ],
    ids=["latin-1", "utf-16", "utf-16-no-bom", "5000-deep-list", "5000-deep-mapping"],
)
def test_unreadable_recipe_files_are_one_clear_error(content, fragment, cli, posters_dir, tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_bytes(content)
    raw = ["recipe", "show"]  # prints the file as it is: only its encoding is checked
    for command in ([raw] if "UTF" in fragment else []) + [["recipe", "show", "--resolved"], ["train"]]:
        extra = ["--data", posters_dir, "--out", tmp_path / "run"] if command == ["train"] else []
        line = assert_error(cli(*command, recipe, *extra), "mine.yaml", fragment)
        assert "\x00" not in line
    assert not (tmp_path / "run").exists()


def test_a_set_value_nested_5000_deep_blames_the_set(cli, tiny_recipe):
    for value in ("[" * 5000 + "]" * 5000, "{a: " * 5000 + "1" + "}" * 5000):
        assert_error(cli("recipe", "show", tiny_recipe, "--set", f"train.lr={value}"), "--set train.lr", "too deeply")


def test_a_utf16_labels_csv_without_bom_says_not_utf8(cli, tiny_run, session_cache, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.csv").write_bytes("file,genres\nposter.jpg,Drama\n".encode("utf-16-le"))
    line = assert_error(cli("eval", tiny_run[0], "--data", data, "--cache-dir", session_cache), "not UTF-8")
    assert "labels.csv" in line and "\x00" not in line


@pytest.fixture
def damaged_cache(session_cache, tmp_path) -> Path:
    """A copy of the session's cache whose pages were overwritten with garbage (a disk fault, a bad copy)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(session_cache / "features.sqlite", cache / "features.sqlite")
    path, noise = cache / "features.sqlite", bytes(range(256)) * 16
    with open(path, "r+b") as handle:
        for page in range(1, path.stat().st_size // 4096, 2):
            handle.seek(page * 4096)
            handle.write(noise)
    return cache


def test_a_damaged_cache_is_a_clear_error_with_the_way_out(cli, tiny_run, posters_dir, damaged_cache):
    poster = POSTERS / poster_rows(1)[0]["file"]
    for command in (["cache", "info"], ["eval", tiny_run[0], "--data", posters_dir], ["predict", tiny_run[0], poster]):
        line = assert_error(cli(*command, "--cache-dir", damaged_cache), "features.sqlite", "is damaged")
        assert "mmgenre cache clear" in line


def test_the_way_out_of_a_damaged_cache_works(cli, damaged_cache):
    assert cli("cache", "check", "--cache-dir", damaged_cache).exit_code == 1  # says it is damaged
    assert cli("cache", "clear", "--yes", "--cache-dir", damaged_cache).exit_code == 0
    assert cli("cache", "info", "--cache-dir", damaged_cache, "--json").exit_code == 0


def unprivileged() -> tuple[str, ...]:
    """A command prefix under which file permissions hold: tests run as root, which ignores them unless its
    capabilities to override them are dropped."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")
    probe = "import os, tempfile; f = tempfile.mkstemp()[1]; os.chmod(f, 0o444); print(os.access(f, 2)); os.remove(f)"
    try:
        answer = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        answer = None
    if answer is None or answer.stdout.strip() != "False":
        pytest.skip("root without setpriv: file permissions can't be enforced here")
    return prefix


def test_a_read_only_cache_serves_eval_predict_and_info(tiny_run, posters_dir, session_cache, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(session_cache / "features.sqlite", cache / "features.sqlite")
    (cache / "features.sqlite").chmod(0o444)
    cache.chmod(0o555)
    before = snapshot(cache)
    prefix = unprivileged()
    try:
        info = mmgenre("cache", "info", "--cache-dir", cache, "--json", prefix=prefix)
        assert info.exit_code == 0, info.stderr
        assert sum(n["entries"] for n in json.loads(info.stdout)["namespaces"]) > 0
        run = tmp_path / "run"
        shutil.copytree(tiny_run[0], run)
        result = mmgenre("eval", run, "--data", posters_dir, "--cache-dir", cache, "--json", prefix=prefix)
        assert result.exit_code == 0, result.stderr[-2000:]
        assert json.loads(result.stdout)["posters"] > 0
        poster = POSTERS / poster_rows(1)[0]["file"]
        predicted = mmgenre("predict", run, poster, "--cache-dir", cache, "--json", prefix=prefix)
        assert predicted.exit_code == 0 and len(json.loads(predicted.stdout)["predictions"]) == 1
        cleared = mmgenre("cache", "clear", "--yes", "--cache-dir", cache, prefix=prefix)
        assert_error(cleared, "read-only")
        assert snapshot(cache) == before
    finally:
        cache.chmod(0o755)


def test_an_unknown_log_level_lists_the_valid_ones(cli, monkeypatch):
    monkeypatch.setenv("MMGENRE_LOG", "verbose")
    assert_error(cli("list"), "MMGENRE_LOG='verbose'", "DEBUG, INFO, WARNING, ERROR")


# 4. Messages that add up and name their source --------------------------------------------------------------


def test_a_labels_csv_with_a_header_and_no_rows_says_so(cli, tiny_run, session_cache, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.csv").write_text("file,genres\n")
    line = assert_error(cli("eval", tiny_run[0], "--data", data, "--cache-dir", session_cache), "no rows")
    assert "0 rows" not in line


def test_a_misspelt_set_key_blames_the_set(cli, tiny_recipe):
    line = assert_error(cli("recipe", "show", tiny_recipe, "--set", "trian.lr=3e-4"), "unknown key 'trian'")
    assert "(--set trian.lr=3e-4)" in line and "Did you mean 'train'?" in line


def test_skip_counts_add_up(cli, tiny_recipe, session_cache, tmp_path, tiny_run):
    data = write_dataset(tmp_path / "data", poster_rows(2))
    good = (POSTERS / poster_rows(1, start=2)[0]["file"]).read_bytes()
    (data / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (data / "text.jpg").write_text("not a poster\n")
    append_rows(data, {"file": "truncated.jpg", "genres": "Drama"}, {"file": "text.jpg", "genres": "Comedy"})
    result = cli("features", tiny_recipe, "--data", data, "--cache-dir", session_cache)
    assert result.exit_code == 0, result.stderr
    assert "2 of 4 posters have features" in result.stdout
    assert "skipped 2 of 4 rows: 1 corrupt or truncated image, 1 not an image" in result.stderr
    evaluated = cli("eval", tiny_run[0], "--data", data, "--split", "all", "--cache-dir", session_cache, "--json")
    report = json.loads(evaluated.stdout)
    assert report["posters"] == 2 and sum(report["skipped"].values()) == 2


def test_nothing_usable_is_a_failure(cli, tiny_run, session_cache, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jpg").write_text("not a poster\n")
    (data / "b.jpg").write_bytes(b"")
    (data / "labels.csv").write_text("file,genres\na.jpg,Drama\nb.jpg,Comedy\n")
    run = tiny_run[0]
    assert_error(cli("eval", run, "--data", data, "--split", "all", "--cache-dir", session_cache), "none of the 2")
    assert_error(cli("predict", run, data / "a.jpg", data / "b.jpg", "--cache-dir", session_cache), "none of the 2")


def test_identical_unusable_posters_are_each_reported(cli, tiny_run, session_cache, tmp_path):
    good, twins = POSTERS / poster_rows(1)[0]["file"], [tmp_path / "twin1.jpg", tmp_path / "twin2.jpg"]
    for twin in twins:
        twin.write_text("not a poster\n")
    result = cli("predict", tiny_run[0], good, *twins, "--cache-dir", session_cache, "--json")
    output = json.loads(result.stdout)
    assert len(output["predictions"]) == 1
    assert sorted(s["where"] for s in output["skipped"]) == sorted(map(str, twins))


@pytest.fixture
def gemini(monkeypatch):
    server = FakeGemini()
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-reliability")
    monkeypatch.setenv("GEMINI_BASE_URL", server.url)
    yield server
    server.close()


GEMINI = ["ocr.name=gemini", "ocr.params.max_retries=0", "ocr.params.requests_per_minute=100000"]


def test_a_run_where_every_poster_fails_ocr_exits_non_zero(cli, gemini, tiny_recipe, session_cache, tmp_path):
    data = write_dataset(tmp_path / "train", poster_rows(12, start=300))
    sets = [arg for setting in GEMINI for arg in ("--set", setting)]
    trained = cli("train", tiny_recipe, "--data", data, "--cache-dir", session_cache, "--out", tmp_path / "run",
                  "--set", "train.max_epochs=1", *sets)  # fmt: skip
    assert trained.exit_code == 0, trained.stderr  # the server answers "DEFAULT TEXT" to every poster
    fresh = write_dataset(tmp_path / "fresh", poster_rows(3, start=320))
    gemini.script = [("status", 500)] * 50  # then the API fails for every request
    features = cli("features", tiny_recipe, "--data", fresh, "--cache-dir", session_cache, *sets)
    assert_error(features, "no poster", "3 OCR failed")
    posters = [POSTERS / row["file"] for row in poster_rows(3, start=320)]
    predicted = cli("predict", tmp_path / "run", *posters, "--cache-dir", session_cache)
    assert_error(predicted, "none of the 3 posters", "3 OCR failed")
