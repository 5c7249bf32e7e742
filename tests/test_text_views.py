"""OCR dropout (`train.text_views`): copies of the training posters whose OCR text lost lines, embedded through the
cache, with the image features unchanged."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import train_cli

from mmgenre.recipe import TextViews
from mmgenre.training.text_views import copy_rng, degraded_text

TEXT = "\n".join(f"line {i}" for i in range(12))


def test_degraded_text_drops_and_shuffles_lines_as_asked():
    keep_all = TextViews(drop_lines=0, shuffle=True)
    shuffled = degraded_text(TEXT, keep_all, random.Random(1))
    assert shuffled != TEXT and sorted(shuffled.split("\n")) == sorted(TEXT.split("\n"))
    assert degraded_text(TEXT, TextViews(drop_text=1), random.Random(1)) == ""
    half = TextViews(drop_lines=0.5, shuffle=False)
    kept = [len(degraded_text(TEXT, half, random.Random(seed)).split("\n")) for seed in range(200)]
    assert 5 < np.mean(kept) < 7  # about half of the 12 lines
    unshuffled = degraded_text(TEXT, TextViews(drop_lines=0.5, shuffle=False), random.Random(3)).split("\n")
    assert unshuffled == sorted(unshuffled, key=TEXT.split("\n").index)  # order kept when not shuffled


def test_each_posters_copy_is_the_same_in_every_run_and_differs_between_copies():
    views = TextViews(drop_lines=0.3)
    first = degraded_text(TEXT, views, copy_rng("abc", 0, views))
    assert first == degraded_text(TEXT, views, copy_rng("abc", 0, views))
    assert first != degraded_text(TEXT, views, copy_rng("abc", 1, views))
    assert first != degraded_text(TEXT, views, copy_rng("abd", 0, views))


def test_a_setting_that_changes_nothing_is_refused():
    with pytest.raises(ValueError, match="would equal the posters' text"):
        TextViews(drop_lines=0, shuffle=False)


def test_copies_keep_image_features_and_get_the_embeddings_of_their_text(posters_dir, session_cache, tiny_recipe):
    from mmgenre.data.dataset import load_dataset
    from mmgenre.features.cache import FeatureCache
    from mmgenre.recipe import load_recipe
    from mmgenre.training.prepared import prepare
    from mmgenre.training.text_views import with_text_views

    recipe = load_recipe(tiny_recipe, ["train.text_views={copies: 2, drop_lines: 0.5}", "fusion.params.tokens=true"])
    dataset = load_dataset(posters_dir, recipe.labels)
    with FeatureCache(session_cache) as cache:
        data = prepare(recipe, dataset, cache, ids=[p.id for p in dataset.posters[:24]])
        features, targets = with_text_views((data.features, data.targets), recipe, cache)
    n = len(data.features)
    assert len(features) == 3 * n and np.array_equal(targets, np.concatenate([data.targets] * 3))
    for copy in (1, 2):
        rows = slice(copy * n, (copy + 1) * n)
        assert np.array_equal(features.arrays["image"][rows], data.features.arrays["image"])
        assert np.array_equal(features.arrays["image_tokens"][rows], data.features.arrays["image_tokens"])
    texts = features.texts
    assert texts[n : 2 * n] != data.features.texts and texts[n : 2 * n] != texts[2 * n :]
    assert any(len(copy) < len(text) for copy, text in zip(texts[n : 2 * n], data.features.texts))

    recipe.text_encoder.load("cpu")  # the copy's text features are what the encoder makes of its text
    with torch.inference_mode():
        direct = recipe.text_encoder.encode(texts[n : n + 4]).pooled.float().numpy()
    np.testing.assert_allclose(features.arrays["text"][n : n + 4], direct, atol=2e-3)
    lengths = features.arrays["text_mask"][n : 2 * n].sum(axis=1)
    assert (lengths <= data.features.arrays["text_mask"].sum(axis=1)).all()  # fewer lines, fewer tokens


def test_train_with_text_views_trains_on_the_copies(posters_dir, session_cache, tiny_recipe, tiny_run, tmp_path):
    run, _ = tiny_run
    result = train_cli(
        tiny_recipe, posters_dir, session_cache, tmp_path / "ocr-dropout", "train.text_views={drop_text: 0.5}"
    )
    assert result.exit_code == 0, result.stderr
    info = json.loads((tmp_path / "ocr-dropout" / "run.json").read_text())
    assert info["splits"] == json.loads(run.joinpath("run.json").read_text())["splits"]  # rows added, not posters
    assert "text_views" in (tmp_path / "ocr-dropout" / "recipe.yaml").read_text()
    history = (tmp_path / "ocr-dropout" / "history.jsonl").read_text()
    assert history != run.joinpath("history.jsonl").read_text()  # the head saw other rows
