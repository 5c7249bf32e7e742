"""`mmgenre plugin new` writes a package that installs, passes its own tests (mmgenre.testing's checks among them)
without edits or network, shows in `mmgenre list`, and trains: one package of each kind, installed into this
environment for the module and uninstalled after it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MMGENRE, POSTERS, TEST_RECIPES, poster_rows, run_cli

from mmgenre.components import KINDS

PACKAGES = {  # KIND as typed on the command line -> component name
    "dataset": "kit-dataset",
    "ocr-engines": "kit-ocr",
    "image-encoder": "kit-image",
    "text-encoder": "kit-text",
    "fusion": "kit-head",
    "losses": "kit-loss",
    "executor": "kit-executor",
    "store": "kit-store",
    "model": "kit-model",
}


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def packages(tmp_path_factory, tiny_run) -> dict[str, Path]:
    """The generated packages (name -> folder), installed editable for this module only."""
    root = tmp_path_factory.mktemp("scaffold")
    folders = {}
    for kind, name in PACKAGES.items():
        packaged = ["--from", tiny_run[0]] if kind == "model" else []  # a model packages a run
        result = run_cli("plugin", "new", kind, name, root / name, *packaged)
        assert result.exit_code == 0, result.output
        folders[name] = root / name
    editable = [arg for folder in folders.values() for arg in ("-e", str(folder))]
    try:
        installed = pip("install", "-q", "--no-deps", "--no-build-isolation", *editable)
        assert installed.returncode == 0, installed.stderr[-2000:]
        yield folders
    finally:
        removed = pip("uninstall", "-q", "-y", *(f"mmgenre-{name}" for name in PACKAGES.values()))
        assert removed.returncode == 0, removed.stderr  # the environment is left as it was found


def test_one_package_per_kind_covers_every_kind():
    from mmgenre.cli.plugin import ONE_KIND

    assert {ONE_KIND[kind] for kind in PACKAGES} == set(KINDS)


def test_new_refuses_bad_names_ambiguous_kinds_and_folders_in_use(tmp_path):
    bad = run_cli("plugin", "new", "fusion", "My_Head", tmp_path / "a")
    assert bad.exit_code == 2 and "use lowercase letters and digits" in bad.output
    taken = run_cli("plugin", "new", "fusion-heads", "concat", tmp_path / "b")
    assert taken.exit_code == 2 and "the fusion head 'concat' exists already (plugin 'fusion')" in taken.output
    ambiguous = run_cli("plugin", "new", "encoders", "thing", tmp_path / "c")
    assert ambiguous.exit_code == 2 and "'encoders' is not one of" in ambiguous.output
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    in_use = run_cli("plugin", "new", "loss", "kit-loss", tmp_path / "d")
    assert in_use.exit_code == 1 and "is not empty and was not written by mmgenre" in in_use.stderr
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["notes.txt"]
    assert not any((tmp_path / name).exists() for name in "abc")


def test_new_writes_a_package_named_after_the_component(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("plugin", "new", "text-encoder", "word-bag", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert (
        made["folder"] == "mmgenre-word-bag"
        and made["module"] == "mmgenre_word_bag"
        and made["class_name"] == "WordBag"
    )
    pyproject = (tmp_path / "mmgenre-word-bag" / "pyproject.toml").read_text()
    assert '[project.entry-points.mmgenre]\nword-bag = "mmgenre_word_bag"' in pyproject
    assert 'mmgenre_plugins = ["word-bag"]' in pyproject
    init = (tmp_path / "mmgenre-word-bag" / "mmgenre_word_bag" / "__init__.py").read_text()
    assert "def register_text_encoders(register):\n    register(WordBag)" in init
    assert "$" not in "".join(p.read_text() for p in (tmp_path / "mmgenre-word-bag").rglob("*.*"))


@pytest.mark.slow
def test_generated_packages_pass_their_own_tests(packages):
    for name, folder in packages.items():
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{name}:\n{result.stdout[-4000:]}"
        summary = result.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"\d+ passed in [\d.]+s( \(.*\))?", summary), f"{name}: {summary}"  # no skip, no error
        checks = re.findall(rf"PASSED tests/test_conformance.py::test_conformance\[\w+:{name}:(\w+)\]", result.stdout)
        assert {"params_reject_unknown_keys", "pickles_to_another_process"} <= set(checks), result.stdout[-2000:]
        assert len(checks) >= 7 and "PASSED tests/test_component.py::" in result.stdout


@pytest.mark.slow
def test_generated_components_are_listed_with_their_plugin(packages):
    listed = json.loads(subprocess.run([MMGENRE, "list", "--json"], capture_output=True, text=True).stdout)
    rows = {row["name"]: row for row in listed if row["name"] in PACKAGES.values()}
    assert {row["kind"] for row in rows.values()} == set(KINDS)
    assert all(row["plugin"] == name and row["available"] for name, row in rows.items())
    plugins = json.loads(subprocess.run([MMGENRE, "plugins", "--json"], capture_output=True, text=True).stdout)
    (head,) = [plugin for plugin in plugins if plugin["name"] == "kit-head"]
    assert head["package"] == "mmgenre-kit-head" and head["version"] == "0.1.0" and head["status"] == "ok"
    assert head["hooks"] == ["register_fusion_heads"]


@pytest.mark.slow
def test_a_recipe_trains_with_every_generated_component(packages, tmp_path):
    listing = tmp_path / "posters.jsonl"
    rows = poster_rows(48)
    listing.write_text(
        "".join(json.dumps({"file": str(POSTERS / r["file"]), "genres": r["genres"].split("|")}) + "\n" for r in rows)
    )
    sets = ["fusion.name=kit-head", "loss.name=kit-loss", "ocr.name=kit-ocr", "image_encoder.name=kit-image"]
    sets.append("text_encoder.name=kit-text")
    result = subprocess.run(
        [
            MMGENRE,
            "train",
            TEST_RECIPES / "tiny.yaml",
            "--data",
            f"kit-dataset:{listing}",
            "--store",
            f"kit-store:{tmp_path / 'store'}",
            "--executor",
            "kit-executor",
        ]
        + ["--out", tmp_path / "run", "--json", *(arg for s in sets for arg in ("--set", s))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout)
    assert metrics["val"]["posters"] > 0 and 0 <= metrics["val"]["macro_f1"] <= 1
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {value["package"] for value in run["components"].values()} == {
        f"mmgenre-{name}"
        for name in PACKAGES.values()
        if name not in ("kit-dataset", "kit-executor", "kit-store", "kit-model")
    }  # executors and stores are chosen per command: they leave the features, and so the run, unchanged
    assert run["data"] == {"name": "kit-dataset", "params": {"path": str(listing)}}


@pytest.mark.slow
def test_a_packaged_model_is_used_by_name(packages, tiny_run, tmp_path):
    models = {
        m["name"]: m
        for m in json.loads(subprocess.run([MMGENRE, "models", "--json"], capture_output=True, text=True).stdout)
    }
    assert models["kit-model"]["source"].startswith("mmgenre-kit-model 0.1.0")
    assert models["kit-model"]["test_macro_f1"] == tiny_run[1]["test"]["macro_f1"]
    poster = POSTERS / poster_rows(1)[0]["file"]
    by_name = subprocess.run([MMGENRE, "predict", "kit-model", poster, "--json"], capture_output=True, text=True)
    by_path = subprocess.run([MMGENRE, "predict", tiny_run[0], poster, "--json"], capture_output=True, text=True)
    assert by_name.returncode == 0, by_name.stderr[-2000:]
    named, pathed = json.loads(by_name.stdout), json.loads(by_path.stdout)
    assert named["model"].startswith("model kit-model (mmgenre-kit-model")
    assert named["predictions"][0]["scores"] == pathed["predictions"][0]["scores"]  # the same run, packaged
    card = subprocess.run([MMGENRE, "models", "kit-model"], capture_output=True, text=True).stdout
    assert "# Model card: kit-model" in card and f"{tiny_run[1]['test']['macro_f1']:.3f}" in card
