"""Issue 10's invariants, checked on generated input (hypothesis): whatever damaged labels.csv, recipe, run folder
or poster file a user hands it, mmgenre exits 0 or 1 (2 for usage) with no traceback and no hang, writes and
removes nothing outside its run, report and cache folders, and still processes the good posters.

Every CLI call runs in-process inside a fresh sandbox folder (also the working directory), snapshotted before and
after. Examples are derandomized, so CI sees the same ones on every run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import POSTERS, poster_rows
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

HANG_SECONDS = 120  # a CLI call that takes longer is taken for a hang
SCALE = int(os.environ.get("MMGENRE_FUZZ_SCALE", "1"))  # >1: that many times the examples, new ones each run


def fuzz(examples: int):
    """Hypothesis settings: `examples` fixed examples in CI; MMGENRE_FUZZ_SCALE=N explores N times as many."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=SCALE == 1,  # the same examples on every run: reproducible CI
        database=None,
        deadline=None,  # slow CI machines vary; hangs are caught by HANG_SECONDS instead
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


# The harness: a sandbox per example, the CLI in-process with a hang alarm, the invariants -----------------------


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"a CLI call took more than {HANG_SECONDS} s")


def invoke(cwd: Path, *args, codes=(0, 1)):
    """Run `mmgenre ARGS` in `cwd`; checks no traceback, no hang, an allowed exit code, an `Error:` line on 1."""
    from click.testing import CliRunner

    from mmgenre.cli.main import cli

    previous, handler = os.getcwd(), signal.signal(signal.SIGALRM, _alarm)
    os.chdir(cwd)
    signal.alarm(HANG_SECONDS)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, handler)
        os.chdir(previous)
    shown = " ".join(map(str, args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"mmgenre {shown} raised:\n{''.join(traceback.format_exception(*result.exc_info))}")
    assert "Traceback" not in result.stderr, f"mmgenre {shown}:\n{result.stderr}"
    assert result.exit_code in codes, f"mmgenre {shown} exited {result.exit_code}:\n{result.stderr[-3000:]}"
    if result.exit_code == 1:
        assert any(line.startswith("Error: ") for line in result.stderr.splitlines()), result.stderr[-3000:]
    event(f"{args[0]} exit {result.exit_code}")  # the mix of outcomes, shown by --hypothesis-show-statistics
    return result


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, object]:
    """Files (bytes), folders and other entries below `folder`, except under the names in `skip`."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if name.split(os.sep)[0] in skip:
            continue
        found[name] = path.read_bytes() if path.is_file() and not path.is_symlink() else path.is_dir()
    return found


class Sandbox:
    """Snapshots a sandbox folder once its input is in place, and checks it after the commands ran."""

    def __init__(self, root: Path) -> None:
        self.path = Path(tempfile.mkdtemp(dir=root))
        (self.path / "notes.txt").write_text("the user's notes\n")
        (self.path / "mine").mkdir()
        (self.path / "mine" / "thesis.txt").write_text("four years of work\n")

    def freeze(self, allowed: tuple[str, ...] = ()) -> None:
        self.allowed = allowed
        self.before = snapshot(self.path, skip=allowed)

    def check(self) -> None:
        after = snapshot(self.path, skip=self.allowed)
        before = self.before
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not changed, f"mmgenre wrote or removed outside its folders: {changed}"

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture(scope="module")
def world(tiny_run, session_cache, tmp_path_factory):
    """What every example shares: the trained tiny run, the warm cache, two good posters, a scratch root."""
    rows = poster_rows(2)
    return {
        "run": tiny_run[0],
        "cache": session_cache,
        "good": [(POSTERS / row["file"], row["genres"]) for row in rows],
        "root": tmp_path_factory.mktemp("properties"),
    }


def json_values():
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12)
    )
    containers = lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3)  # noqa: E731
    return st.recursive(scalars, containers, max_leaves=6)


# 1. labels.csv -----------------------------------------------------------------------------------------------

ODD_FILES = [
    "missing.jpg", "fifo.jpg", "folder.jpg", "/dev/zero", "/dev/null", "../notes.txt", "notes.txt", "", "   ",
    "http://example.com/poster.jpg", "s3://bucket/p.jpg", "x" * 300 + ".jpg", "truncated.jpg", "noise.jpg",
    "empty.jpg", "tiny.png", "~/poster.jpg", "a/../../../etc/passwd", "poster .jpg", "pôster.jpg", "C:\\p.jpg",
]  # fmt: skip
GENRES = ["Drama", "Comedy|Action", "", "Dramma", "drama | COMEDY", "Documentary", "|||", "Sci-Fi|Nonsense"]
MANGLING = [
    "none", "bom", "crlf", "extra columns", "utf-16", "utf-16 with bom", "latin-1", "garbage appended", "cut short",
    "no file column", "no genres column", "header only", "random bytes", "unbalanced quotes", "nul byte",
]  # fmt: skip
HARMLESS = {"none", "bom", "crlf", "extra columns"}  # the good rows must still be used

row_strategy = st.tuples(
    st.one_of(st.sampled_from(ODD_FILES), st.text(st.characters(blacklist_characters="\x00"), max_size=30)),
    st.one_of(st.sampled_from(GENRES), st.text(max_size=20)),
)


def write_posters(data: Path, good: list[tuple[Path, str]]) -> None:
    """The good posters, and the bad files the odd rows may name."""
    for i, (source, _) in enumerate(good, 1):
        shutil.copy(source, data / f"good{i}.jpg")
    content = good[0][0].read_bytes()
    (data / "truncated.jpg").write_bytes(content[: len(content) // 4])
    (data / "noise.jpg").write_bytes(bytes(range(256)) * 8)
    (data / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(data / "tiny.png")
    (data / "folder.jpg").mkdir()
    os.mkfifo(data / "fifo.jpg")


def labels_bytes(rows: list[tuple[str, str]], mangling: str, cut: float) -> bytes:
    buffer = io.StringIO(newline="")
    header = ["file", "genres"] + (["title", "year"] if mangling == "extra columns" else [])
    if mangling == "no file column":
        header[0] = "path"
    if mangling == "no genres column":
        header[1] = "genre"
    writer = csv.writer(buffer, lineterminator="\r\n" if mangling == "crlf" else "\n")
    writer.writerow(header)
    for file, genres in [] if mangling == "header only" else rows:
        writer.writerow([file, genres] + (["A title, with a comma", "1999"] if mangling == "extra columns" else []))
    text = buffer.getvalue()
    if mangling == "unbalanced quotes":
        text = text.replace("\n", '\n"', 1)
    if mangling == "nul byte":
        text = text[: len(text) // 2] + "\x00" + text[len(text) // 2 :]
    encoded = {
        "bom": lambda t: "\ufeff".encode() + t.encode(),
        "utf-16": lambda t: t.encode("utf-16-le"),
        "utf-16 with bom": lambda t: t.encode("utf-16"),
        "latin-1": lambda t: t.encode("latin-1", errors="replace"),
    }.get(mangling, lambda t: t.encode("utf-8", errors="surrogatepass"))(text)
    if mangling == "garbage appended":
        encoded += bytes(range(256))
    if mangling == "cut short":
        encoded = encoded[: int(len(encoded) * cut)]
    if mangling == "random bytes":
        encoded = bytes((i * 97 + int(cut * 1000)) % 256 for i in range(300))
    return encoded


@fuzz(50)
@given(
    odd=st.lists(row_strategy, max_size=8),
    positions=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    mangling=st.sampled_from(MANGLING),
    cut=st.floats(0, 1),
    manifest=st.booleans(),
    command=st.sampled_from(["eval", "features"]),
)
def test_any_labels_csv(world, tiny_recipe, odd, positions, mangling, cut, manifest, command):
    box = Sandbox(world["root"])
    try:
        data = box.path / "data"
        data.mkdir()
        write_posters(data, world["good"])
        rows = [row for row in odd if not row[0].strip().startswith("good")]
        for i, (_, genres) in enumerate(world["good"], 1):
            rows.insert(min(positions[i - 1], len(rows)), (f"good{i}.jpg", genres))
        (data / "labels.csv").write_bytes(labels_bytes(rows, mangling, cut))
        box.freeze()
        where = data / "labels.csv" if manifest else data
        if command == "eval":
            args = ["eval", world["run"], "--data", where, "--split", "all", "--cache-dir", world["cache"], "--json"]
        else:
            args = ["features", tiny_recipe, "--data", where, "--cache-dir", world["cache"], "--json"]
        result = invoke(box.path, *args)
        if mangling in HARMLESS:
            assert result.exit_code == 0, result.stderr[-3000:]
            report = json.loads(result.stdout)
            assert report["posters" if command == "eval" else "with_features"] == 2  # exactly the good ones
        box.check()
    finally:
        box.close()


# 2. Recipes and --set values ---------------------------------------------------------------------------------

KEYS = [
    "extends", "name", "description", "data", "features", "train", "ocr", "image_encoder", "text_encoder", "fusion",
    "loss", "dataset", "params", "labels", "split", "lr", "max_epochs", "batch_size", "trian", "fusion.name", "seed",
]  # fmt: skip
NASTY = [
    "!!python/object/apply:os.system [touch PWNED]", "!!python/name:os.system", "*undefined", "&a [*a]", "{", "[",
    "'", '"', ": ", "- ", "!!binary AAAA", "~", ".nan", "1e400", "0x1F", "[" * 200, "{a: " * 60, "paper",
    "paper-offline", "mine.yaml", "../../../../etc/passwd", "cross-attn-smsam", "rapidocr", "!!set {a, b}",
]  # fmt: skip
yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=16),
    st.sampled_from(NASTY),
)  # fmt: skip
yaml_trees = st.recursive(
    yaml_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=4)
    ),
    max_leaves=12,
)
set_values = st.one_of(
    st.sampled_from(["train.lr=3e-4", "fusion.name=late", "loss.name=focal", "train.seed=3", "data.split.seed=1"]),
    st.text(st.characters(blacklist_characters="\x00"), max_size=40),
    st.builds(
        "{}={}".format,
        st.one_of(
            st.sampled_from(
                [
                    "train.lr",
                    "trian.lr",
                    "fusion.name",
                    "fusion.params.heads",
                    "ocr",
                    "data.labels",
                    "data.split.train",
                    "image_encoder.params.variant",
                    "train",
                    "a..b",
                    ".x",
                    "x.",
                ]
            ),
            st.text(st.characters(blacklist_characters="\x00="), max_size=12),
        ),  # fmt: skip
        st.one_of(st.sampled_from(NASTY), st.text(st.characters(blacklist_characters="\x00"), max_size=20)),
    ),
)


SENSIBLE = [  # edits a user might well make: most examples should get past the first check
    {"train": {"lr": 0.001, "max_epochs": 2}}, {"fusion": {"name": "concat"}}, {"loss": {"name": "bce"}},
    {"fusion": {"params": {"heads": 2}}}, {"data": {"min_side": 64, "train_where": "year >= 2000"}},
    {"data": {"labels": ["Drama", "Comedy"]}}, {"ocr": {"name": "tesseract", "params": {"psm": 11}}}, {},
]  # fmt: skip


def recipe_text(tree, base: dict, damage: str, at: float) -> bytes:
    """A recipe file: the tiny recipe with `tree` merged in, or `tree` alone, with some damage done to its text."""
    data = {**base, **tree} if isinstance(tree, dict) and damage != "alone" else tree
    try:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        text = str(data)
    cut = int(len(text) * at)
    if damage == "nasty value":
        text = text[:cut] + " " + NASTY[cut % len(NASTY)] + "\n" + text[cut:]
    elif damage == "cut":
        text = text[:cut]
    elif damage == "tabs":
        text = text.replace("  ", "\t")
    elif damage == "bomb":
        text = 'a: &a ["x","x"]\n' + "".join(f"{c}: &{c} [*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    encoding = {"utf-16": "utf-16", "latin-1": "latin-1"}.get(damage, "utf-8")
    return text.encode(encoding, errors="replace")


@fuzz(200)
@given(
    tree=st.one_of(st.sampled_from(SENSIBLE), yaml_trees),
    damage=st.sampled_from(["none", "alone", "nasty value", "cut", "tabs", "bomb", "utf-16", "latin-1"]),
    at=st.floats(0, 1),
    sets=st.lists(set_values, max_size=3),
    validate=st.booleans(),
)
def test_any_recipe_and_set_values(world, tiny_recipe, tree, damage, at, sets, validate):
    box = Sandbox(world["root"])
    try:
        base = yaml.safe_load(tiny_recipe.read_text())
        base["extends"] = str(tiny_recipe.parent.parent.parent / "recipes" / "paper-offline.yaml")
        (box.path / "mine.yaml").write_bytes(recipe_text(tree, base, damage, at))
        box.freeze()
        overrides = [arg for value in sets for arg in ("--set", value)]
        command = ["recipe", "validate"] if validate else ["recipe", "show", "--resolved"]
        invoke(box.path, *command, "mine.yaml", *overrides)
        assert not (box.path / "PWNED").exists()
        box.check()
    finally:
        box.close()


# 3. Run folders ----------------------------------------------------------------------------------------------

RUN_FILES = ["run.json", "recipe.yaml", "thresholds.json", "metrics.json", "history.jsonl", "scores.npz",
             "model.safetensors", ".mmgenre-run"]  # fmt: skip
mutations = st.tuples(
    st.sampled_from(RUN_FILES),
    st.sampled_from(["delete", "truncate", "random bytes", "flip bytes", "folder", "fifo", "edit", "unknown key"]),
    st.floats(0, 1),
    json_values(),
)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def mutate(run: Path, file: str, kind: str, at: float, value) -> None:
    """Damage one file of a run folder as a crash, a bad copy, an editor or a hostile user would."""
    path = run / file
    if kind in ("delete", "folder", "fifo"):
        remove(path)
        if kind == "folder":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        return
    if not path.is_file():
        return
    content = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(content[: int(len(content) * at)])
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(int(at * 1e6)).bytes(1 + int(at * 4000)))
    elif kind == "flip bytes":
        flipped = bytearray(content)
        for i in range(0, len(flipped), max(1, int(len(flipped) * at))):
            flipped[i] ^= 0xFF
        path.write_bytes(bytes(flipped))
    elif file == "history.jsonl":
        lines = content.decode(errors="replace").splitlines() or [""]
        lines[int(at * (len(lines) - 1))] = json.dumps(value)
        path.write_text("\n".join(lines) + "\n")
    elif file.endswith(".json") or file == "recipe.yaml":
        edit_document(path, kind, at, value)


def edit_document(path: Path, kind: str, at: float, value) -> None:
    """Set (or add, for "unknown key") one value somewhere in a JSON or YAML document."""
    loads, dumps = (yaml.safe_load, yaml.safe_dump) if path.suffix == ".yaml" else (json.loads, json.dumps)
    try:
        document = loads(path.read_text())
    except (ValueError, yaml.YAMLError):
        return  # already damaged past editing
    node = document
    while isinstance(node, dict) and node and kind == "edit":
        key = sorted(node)[int(at * (len(node) - 1))]
        if not isinstance(node[key], dict) or at < 0.3:
            node[key] = value
            break
        node, at = node[key], (at * 7) % 1
    if kind == "unknown key" and isinstance(document, dict):
        document["from_the_future"] = value
    path.write_text(dumps(document))


@fuzz(40)
@given(changes=st.lists(mutations, min_size=1, max_size=3), command=st.sampled_from(["eval", "predict", "report"]))
def test_any_damaged_run_folder(world, changes, command):
    box = Sandbox(world["root"])
    try:
        run = box.path / "run"
        shutil.copytree(world["run"], run)
        for change in changes:
            mutate(run, *change)
        data = box.path / "data"
        data.mkdir()
        write_posters(data, world["good"])
        listed = "".join(f"good{i}.jpg,{genres}\n" for i, (_, genres) in enumerate(world["good"], 1))
        (data / "labels.csv").write_text("file,genres\n" + listed)
        box.freeze(allowed=("run", "report"))
        args = {
            "eval": ["eval", run, "--data", data, "--split", "all"],
            "predict": ["predict", run, data / "good1.jpg", data / "good2.jpg"],
            "report": ["report", run, "--out", box.path / "report", "--no-examples"],
        }[command]
        result = invoke(box.path, *args, "--cache-dir", world["cache"])
        harmless = all(kind == "unknown key" and file == "run.json" for file, kind, _, _ in changes)
        if harmless:
            assert result.exit_code == 0, result.stderr[-3000:]
            assert "from_the_future" in result.stderr  # warned about
        if result.exit_code == 1 and command == "report":
            assert not (box.path / "report").exists()  # a damaged run is found before anything is written
        box.check()
    finally:
        box.close()


# 4. Poster files ---------------------------------------------------------------------------------------------

MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA", "PA"]
FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"]
MAGIC = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"BM", b"II*\x00", b""]
posters = st.one_of(
    st.tuples(st.just("truncated"), st.floats(0, 1)),
    st.tuples(st.just("noise"), st.sampled_from(MAGIC), st.integers(0, 5000)),
    st.tuples(
        st.just("image"),
        st.sampled_from(MODES),
        st.integers(1, 160),
        st.integers(1, 160),
        st.sampled_from(FORMATS),
        st.integers(0, 2**16),
    ),  # fmt: skip
)


def poster_bytes(spec: tuple, good: Path) -> bytes:
    """A truncated real poster, noise behind an image format's magic bytes, or a valid image of any mode."""
    if spec[0] == "truncated":
        content = good.read_bytes()
        return content[: int(len(content) * spec[1])]
    if spec[0] == "noise":
        return spec[1] + np.random.default_rng(spec[2]).bytes(spec[2])
    _, mode, width, height, form, seed = spec
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    gray = Image.fromarray(pixels)
    if mode == "I;16":
        image = Image.fromarray(pixels.astype(np.uint16) * 257)
    else:
        image = gray.convert(mode) if mode in ("I", "F", "1", "L") else Image.merge("RGB", [gray] * 3).convert(mode)
    for candidate in (image, gray):  # a format that can't hold the mode: the gray image instead
        buffer = io.BytesIO()
        try:
            candidate.save(buffer, format=form)
            return buffer.getvalue()
        except (OSError, ValueError, KeyError):
            continue
    raise AssertionError(f"{form} can't hold a gray image")


@fuzz(15)
@given(specs=st.lists(posters, min_size=1, max_size=4))
def test_any_poster_files(world, specs):
    box = Sandbox(world["root"])
    try:
        good = box.path / "good.jpg"
        shutil.copy(world["good"][0][0], good)
        files = []
        for i, spec in enumerate(specs):
            files.append(box.path / f"poster {i}.{spec[-2].lower() if spec[0] == 'image' else 'jpg'}")
            files[-1].write_bytes(poster_bytes(spec, world["good"][1][0]))
        box.freeze()
        result = invoke(box.path, "predict", world["run"], good, *files, "--cache-dir", world["cache"], "--json")
        assert result.exit_code == 0, result.stderr[-3000:]
        output = json.loads(result.stdout)
        predicted = [p["file"] for p in output["predictions"]]
        skipped = [s["where"] for s in output["skipped"]]
        assert str(good) in predicted  # the good poster is always processed
        reported = predicted + skipped
        assert len(reported) == len(set(reported)) and set(reported) <= set(map(str, [good, *files]))
        contents = {path.read_bytes() for path in [good, *files]}
        # Every content is predicted or skipped. Every *file*, once copies of one unusable content are each
        # reported (test_reliability.py::test_identical_unusable_posters_are_each_reported, xfail until then).
        assert {Path(name).read_bytes() for name in reported} == contents
        box.check()
    finally:
        box.close()
