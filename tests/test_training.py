"""train / eval / predict / ablate end to end on real posters (a small sample), through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import POSTERS, poster_rows, train_cli, write_dataset

HEADLINE = {"macro_f1", "micro_f1", "samples_f1", "hit_ratio", "hit_at_1", "map"}


def test_train_writes_a_complete_run_folder(tiny_run):
    run, metrics = tiny_run
    names = {p.name for p in run.iterdir()}
    assert {
        "model.safetensors",
        "recipe.yaml",
        "run.json",
        "history.jsonl",
        "thresholds.json",
        "metrics.json",
        "scores.npz",
    } <= names
    assert run.joinpath("model.safetensors").read_bytes()[8:9] == b"{"  # safetensors header, not a pickle
    history = [json.loads(line) for line in run.joinpath("history.jsonl").read_text().splitlines()]
    assert 1 <= len(history) <= 6 and {"train_loss", "val_macro_f1", "val_macro_f1_tuned", "val_map"} <= set(history[0])
    assert set(metrics["test"]) >= HEADLINE and set(metrics["test"]["references"]) == {
        "every genre",
        "top-1 frequent",
        "top-2 frequent",
        "top-3 frequent",
    }
    info = json.loads(run.joinpath("run.json").read_text())
    assert sum(len(ids) for ids in info["splits"].values()) == 72
    assert not set(info["splits"]["train"]) & set(info["splits"]["test"])
    thresholds = json.loads(run.joinpath("thresholds.json").read_text())
    assert list(thresholds) == info["labels"] and all(0 <= t <= 1 for t in thresholds.values())


def test_training_is_reproducible_with_the_same_seed(tiny_run, cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    run, metrics = tiny_run
    again = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "again")
    assert json.loads(again.stdout)["test"]["macro_f1"] == metrics["test"]["macro_f1"]
    assert (tmp_path / "again" / "history.jsonl").read_text() == run.joinpath("history.jsonl").read_text()
    other = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "seed1", "train.seed=1")
    assert (tmp_path / "seed1" / "history.jsonl").read_text() != run.joinpath("history.jsonl").read_text()
    assert other.exit_code == 0


def test_eval_reports_metrics_thresholds_and_references(tiny_run, cli, posters_dir, session_cache):
    run, metrics = tiny_run
    result = cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= HEADLINE and set(report["threshold_0.5"]) >= HEADLINE and set(report["tuned"]) >= HEADLINE
    assert report["macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])  # same posters, same numbers
    assert set(report["tuned"]["per_genre"]["Drama"]) == {"precision", "recall", "f1", "support"}
    assert report["references"]["every genre"]["hit_ratio"] == 1.0
    text = cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache).stdout
    assert "reference: top-3 frequent" in text and "per genre" in text


def test_eval_on_a_folder_it_never_saw(tiny_run, cli, session_cache, tmp_path):
    run, _ = tiny_run
    unseen = write_dataset(tmp_path / "unseen", poster_rows(24, start=72))
    report = json.loads(
        cli("eval", run, "--data", unseen, "--cache-dir", session_cache, "--split", "all", "--json").stdout
    )
    assert report["posters"] == 24 and 0 <= report["macro_f1"] <= 1


@pytest.mark.parametrize("by", ["decade", "resolution", "language", "n_genres"])
def test_eval_by_slice_covers_every_poster(tiny_run, cli, posters_dir, session_cache, by):
    run, _ = tiny_run
    report = json.loads(
        cli(
            "eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--split", "all", "--by", by, "--json"
        ).stdout
    )
    groups = report["slices"]["groups"]
    assert sum(g["posters"] for g in groups) == report["posters"] == 72
    assert all(set(g) >= HEADLINE for g in groups)


def test_eval_resized_posters_recomputes_features_for_them(tiny_run, cli, posters_dir, session_cache):
    run, _ = tiny_run
    report = json.loads(
        cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--resize-to", "120", "--json").stdout
    )
    assert report["resize_to"] == 120 and 0 <= report["macro_f1"] <= 1
    full = json.loads(cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--json").stdout)
    assert report["posters"] == full["posters"] and report["map"] != full["map"]


def test_predict_gives_genres_and_scores_per_poster(tiny_run, cli, session_cache, tmp_path):
    run, _ = tiny_run
    files = [POSTERS / row["file"] for row in poster_rows(2)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really")
    result = cli("predict", run, *files, broken, "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0
    output = json.loads(result.stdout)
    predictions = output["predictions"]
    assert [p["file"] for p in predictions] == [str(f) for f in files]
    labels = json.loads((run / "run.json").read_text())["labels"]
    for prediction in predictions:
        assert set(prediction["scores"]) == set(labels) and prediction["genres"]
        assert list(prediction["scores"].values()) == sorted(prediction["scores"].values(), reverse=True)
        assert isinstance(prediction["ocr_text"], str)
    assert output["skipped"][0]["where"] == str(broken)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_predict_a_folder_streams_to_a_file_and_a_rerun_resumes(tiny_run, cli, session_cache, tmp_path, suffix):
    import csv
    import shutil

    run, _ = tiny_run
    folder = tmp_path / "catalogue"
    (folder / "nested").mkdir(parents=True)
    sources = [POSTERS / row["file"] for row in poster_rows(3, start=100)]
    for index, source in enumerate(sources[:2]):
        shutil.copy(source, folder / ("nested" if index else "") / source.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    (folder / "notes.txt").write_text("not a poster")
    out = tmp_path / f"predictions{suffix}"

    def predict() -> dict:
        result = cli("predict", run, "--data", folder, "--out", out, "--cache-dir", session_cache, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def rows() -> list[dict]:
        if suffix == ".csv":
            return list(csv.DictReader(out.open(encoding="utf-8", newline="")))
        return [json.loads(line) for line in out.read_text().splitlines()]

    first = predict()
    assert (first["posters"], first["already_done"], first["predicted"]) == (3, 0, 2)  # images only, found recursively
    assert [s["where"] for s in first["skipped"]] == [str(folder / "broken.jpg")]
    written = rows()
    assert sorted(Path(r["file"]).name for r in written) == sorted(s.name for s in sources[:2])
    labels = json.loads((run / "run.json").read_text())["labels"]
    for row in written:
        scores = {g: float(row[g]) for g in labels} if suffix == ".csv" else row["scores"]
        assert set(scores) == set(labels) and all(0 <= v <= 1 for v in scores.values())

    shutil.copy(sources[2], folder / sources[2].name)  # a poster added since, and a run killed mid-row
    with out.open("a", encoding="utf-8", newline="") as handle:
        handle.write(f"{folder / 'half'},Dra" if suffix == ".csv" else '{"file": "half')
    again = predict()
    assert (again["posters"], again["already_done"], again["predicted"]) == (4, 2, 1)  # only the new one
    assert rows()[:2] == written and len(rows()) == 3  # the rows already there untouched, the partial one gone


def test_a_damaged_run_folder_is_a_clear_error(tiny_run, cli, posters_dir, session_cache, tmp_path):
    import shutil

    run, _ = tiny_run
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    result = cli("eval", damaged, "--data", posters_dir, "--cache-dir", session_cache)
    assert result.exit_code == 1 and "model.safetensors cannot be read" in result.stderr
    weights.unlink()
    result = cli("eval", damaged, "--data", posters_dir, "--cache-dir", session_cache)
    assert result.exit_code == 1 and "model.safetensors is missing" in result.stderr


def test_ablate_compares_variants_over_seeds(cli, posters_dir, session_cache, tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("MMGENRE_LOG", "INFO")  # the reuse notes are INFO lines
    args = ["ablate", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--vary",
            "fusion.name=concat,image-only", "--vary", "loss.name=bce,asl", "--seeds", "0,1",
            "--out", tmp_path / "ablation", "--json"]  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    comparison = json.loads(result.stdout)
    rows = comparison["variants"]
    assert len(rows) == 4 and all(len(r["runs"]) == 2 for r in rows)
    for row in rows:
        values = row["macro_f1"]["values"]
        assert row["macro_f1"]["mean"] == pytest.approx(np.mean(values))
        assert row["macro_f1"]["std"] == pytest.approx(np.std(values, ddof=1))
    assert comparison["first"] == rows[0]["variant"] and "vs_first" not in rows[0]
    assert all(r["vs_first"]["ci_low"] <= r["vs_first"]["difference"] <= r["vs_first"]["ci_high"] for r in rows[1:])
    assert comparison["best"] == max(rows, key=lambda r: r["val_macro_f1"]["mean"])["variant"]  # chosen on val
    for row in rows[1:]:
        genres = row["per_genre_vs_first"]
        assert [g["genre"] for g in genres] == json.loads((Path(row["runs"][0]) / "run.json").read_text())["labels"]
        assert all(g["p_holm"] >= g["p_value"] and g["ci_low"] <= g["difference"] <= g["ci_high"] for g in genres)
    again = cli(*args)
    assert again.stderr.count("reusing the finished run") == 8  # nothing is trained twice
    assert json.loads(again.stdout)["variants"] == rows
    table = (tmp_path / "ablation" / "ablation.md").read_text()
    assert "fusion.name=concat, loss.name=bce" in table and "± " in table
    assert "| Drama |" in table and "Holm" in table


def test_ablate_variants_combine_settings_and_filters(cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    result = cli(
        "ablate", tiny_recipe, "--data", posters_dir, "--cache-dir", session_cache, "--set", "train.max_epochs=1",
        "--variant", "data.test_where=rated = PG",
        "--variant", "data.train_where=imdb_rating < 6.5;data.test_where=rated = PG",
        "--out", tmp_path / "eras", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["variants"]
    assert [r["settings"] for r in rows] == [
        {"data.test_where": "rated = PG"},
        {"data.train_where": "imdb_rating < 6.5", "data.test_where": "rated = PG"},
    ]
    meta = {row["imdb_id"]: row for row in poster_rows(72)}
    for row in rows:
        info = json.loads((Path(row["runs"][0]) / "run.json").read_text())
        assert info["splits"]["test"] and all(meta[i]["rated"] == "PG" for i in info["splits"]["test"])
    narrowed = json.loads((Path(rows[1]["runs"][0]) / "run.json").read_text())["splits"]
    assert all(float(meta[i]["imdb_rating"]) < 6.5 for i in narrowed["train"] + narrowed["val"])
    full = json.loads((Path(rows[0]["runs"][0]) / "run.json").read_text())["splits"]
    assert any(float(meta[i]["imdb_rating"]) >= 6.5 for i in full["train"])


def test_a_filter_naming_an_unknown_column_lists_the_columns(cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    result = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "x", "data.train_where=yeer < 1990")
    assert result.exit_code == 1
    assert "unknown column 'yeer'" in result.stderr and "Did you mean 'year'?" in result.stderr
    assert "data.train_where" in result.stderr and "language" in result.stderr


def test_train_max_draws_that_many_training_posters(cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    result = train_cli(
        tiny_recipe, posters_dir, session_cache, tmp_path / "m", "data.train_max=20", "train.max_epochs=1"
    )
    assert result.exit_code == 0, result.stderr
    splits = json.loads((tmp_path / "m" / "run.json").read_text())["splits"]
    assert len(splits["train"]) == 20 and 1 <= len(splits["val"]) < 7


def test_an_ensemble_averages_its_members_probabilities(cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    result = train_cli(
        tiny_recipe, posters_dir, session_cache, tmp_path / "ens", "train.ensemble=3", "train.max_epochs=2"
    )
    assert result.exit_code == 0, result.stderr
    from safetensors.torch import load_file

    state = load_file(str(tmp_path / "ens" / "model.safetensors"))
    assert {key.split(".")[1] for key in state} == {"0", "1", "2"}  # three members
    first, second = (state[f"members.{i}.align_image.project.weight"] for i in (0, 1))
    assert not torch.equal(first, second)  # trained from different seeds
    predicted = cli(
        "predict", tmp_path / "ens", str(POSTERS / poster_rows(1)[0]["file"]), "--cache-dir", session_cache, "--json"
    )
    assert predicted.exit_code == 0, predicted.stderr
    history = [json.loads(line) for line in (tmp_path / "ens" / "history.jsonl").read_text().splitlines()]
    assert {row["member"] for row in history} == {0, 1, 2}


def test_bad_vary_is_a_clear_error(cli, posters_dir, tiny_recipe):
    result = cli("ablate", tiny_recipe, "--data", posters_dir, "--vary", "fusion.name=concat,nonexistent-head")
    assert result.exit_code == 1 and "unknown fusion head 'nonexistent-head'" in result.stderr


def test_token_sequences_flow_from_the_encoders_to_the_head(cli, posters_dir, session_cache, tiny_recipe, tmp_path):
    result = cli(
        "features",
        tiny_recipe,
        "--data",
        posters_dir,
        "--cache-dir",
        session_cache,
        "--set",
        "fusion.params.tokens=true",
        "--json",
    )
    shapes = json.loads(result.stdout)["features"]
    assert shapes["image_tokens"] == [72, 49, 1280] and shapes["image_mask"] == [72, 49]
    assert shapes["text_tokens"][0] == 72 and shapes["text_tokens"][2] == 384
    trained = train_cli(
        tiny_recipe, posters_dir, session_cache, tmp_path / "tok", "fusion.params.tokens=true", "train.max_epochs=2"
    )
    assert trained.exit_code == 0, trained.stderr
    assert json.loads((tmp_path / "tok" / "run.json").read_text())["dims"]["image_tokens"] == 1280


def test_downscaled_views_add_small_copies_of_the_training_posters(
    tiny_run, posters_dir, session_cache, tiny_recipe, tmp_path
):
    import sqlite3

    from mmgenre.data.dataset import load_dataset
    from mmgenre.data.images import content_hash

    run, _ = tiny_run
    result = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "views", "train.downscaled_views=[136]")
    assert result.exit_code == 0, result.stderr
    info = json.loads((tmp_path / "views" / "run.json").read_text())
    assert info["splits"] == json.loads(run.joinpath("run.json").read_text())["splits"]  # rows added, not posters
    history = (tmp_path / "views" / "history.jsonl").read_text()
    assert history != run.joinpath("history.jsonl").read_text()  # the head saw more rows

    posters = {p.id: p for p in load_dataset(posters_dir, info["labels"]).posters}
    small = {content_hash(posters[i].path.read_bytes()) + "@w136" for i in info["splits"]["train"]}
    with sqlite3.connect(session_cache / "features.sqlite") as db:
        read = {key for (key,) in db.execute("SELECT key FROM entries WHERE namespace LIKE 'ocr/%'")}
    assert small <= read  # every training poster was read again at 136 px (no other test of the shared cache uses it)
    others = info["splits"]["val"] + info["splits"]["test"]
    assert not {content_hash(posters[i].path.read_bytes()) + "@w136" for i in others} & read


def test_ablate_variants_whose_folder_names_would_clash_get_their_own_folders():
    from mmgenre.ablation import Variant, folder_names

    variants = [Variant({"train.downscaled_views": "[182]"}), Variant({"train.downscaled_views": "(182)"})]
    assert variants[0].slug == variants[1].slug  # brackets can't be in a folder name: both become '-'
    names = folder_names(variants + [Variant({"fusion.name": "late"})])
    assert len(set(names)) == 3 and names[1] == names[0] + "-2" and names[2] == "fusion-late"
