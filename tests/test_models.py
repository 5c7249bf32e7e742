"""The bundled model: listed by `mmgenre models`, used by `predict` and `serve` when no run is given, addressed
by name wherever a run folder is, and never written into."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import MMGENRE, POSTERS, REGISTRY, poster_rows, run_cli

from mmgenre.training.installed_models import DEFAULT_MODEL, find_model

BUNDLED = find_model(DEFAULT_MODEL, REGISTRY).path


def mmgenre(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([MMGENRE, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_the_bundled_model_is_listed_with_its_test_score():
    result = run_cli("models", "--json")
    assert result.exit_code == 0, result.stderr
    (model,) = [m for m in json.loads(result.stdout) if m["name"] == DEFAULT_MODEL]
    assert model["recipe"] == "offline-best" and len(model["genres"]) == 13
    assert model["test_macro_f1"] >= 0.45 and model["test_posters"] > 1000  # held-out posters, not a toy
    assert model["source"].startswith("mmgenre ") and model["bytes"] < 2 * 2**20


def test_the_bundled_weights_are_half_precision_and_the_card_has_the_numbers():
    from safetensors import safe_open

    with safe_open(str(BUNDLED / "model.safetensors"), "np") as weights:
        dtypes = {weights.get_tensor(name).dtype.name for name in weights.keys()}  # noqa: SIM118
    assert dtypes == {"float16"}
    card = run_cli("models", DEFAULT_MODEL).stdout
    test = json.loads((BUNDLED / "metrics.json").read_text())["test"]
    assert "# Model card: offline-best" in card and f"| test | {test['posters']} | {test['macro_f1']:.3f}" in card
    assert "posters-kaggle" in card and "## Known limits" in card and "## Intended use" in card


def test_a_misspelt_model_name_is_an_error_naming_the_installed_ones(tmp_path):
    poster = POSTERS / poster_rows(1)[0]["file"]
    result = run_cli("predict", "offline-bst", poster)
    assert result.exit_code == 1
    assert "'offline-bst' is neither a run folder nor an installed model. Did you mean 'offline-best'?" in result.stderr
    assert run_cli("eval", "no-such-model").exit_code == 1


@pytest.mark.slow
def test_predict_without_a_run_tags_posters_with_the_bundled_model(tmp_path):
    rows = poster_rows(3, start=100)
    posters = [POSTERS / row["file"] for row in rows]
    result = mmgenre("predict", *posters, "--json", cwd=tmp_path)  # from an empty folder: nothing but the package
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["model"].startswith("model offline-best (mmgenre ")
    assert [p["file"] for p in answer["predictions"]] == [str(p) for p in posters]
    for prediction in answer["predictions"]:
        assert len(prediction["scores"]) == 13 and prediction["genres"]
        assert set(prediction["genres"]) <= set(prediction["scores"])
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
    named = json.loads(mmgenre("predict", "--model", DEFAULT_MODEL, posters[0], "--json", cwd=tmp_path).stdout)
    first = answer["predictions"][0]
    assert {**named["predictions"][0], "seconds": None} == {**first, "seconds": None}  # all but the timings


@pytest.mark.slow
def test_eval_of_an_installed_model_leaves_its_folder_alone(posters_dir, session_cache):
    before = {path.name: path.stat().st_mtime_ns for path in BUNDLED.iterdir()}
    result = run_cli(
        "eval", DEFAULT_MODEL, "--data", posters_dir, "--split", "all", "--cache-dir", session_cache, "--json"
    )
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["posters"] == 72 and 0 <= metrics["macro_f1"] <= 1
    assert {path.name: path.stat().st_mtime_ns for path in BUNDLED.iterdir()} == before
