"""Encoders that learn: frozen prefixes in the cache, trainable tails trained with the head, and what a run
with tails gives after it is loaded again (real posters, real pretrained weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import POSTERS, REGISTRY, TEST_RECIPES, poster_rows, train_cli
from PIL import Image

from mmgenre.features.cache import FeatureCache
from mmgenre.recipe import TrainSpec
from mmgenre.training.loop import make_optimizer, warm_up

TINY_FINETUNE = TEST_RECIPES / "tiny-finetune.yaml"


def encoder(kind: str, name: str, **params):
    component = REGISTRY.create(kind, name, params)
    component.load("cpu")
    return component


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    """Four real posters, preprocessed for EfficientNet-Lite2."""
    full = encoder("image_encoder", "efficientnet-lite")
    files = [POSTERS / row["file"] for row in poster_rows(4)]
    return torch.stack([full.preprocess(Image.open(f).convert("RGB")) for f in files])


def texts() -> list[str]:
    """Real text of different lengths (titles, directors, casts of real posters), and an empty one."""
    rows = poster_rows(3)
    return [rows[0]["title"], f"{rows[1]['title']}\n{rows[1]['director']}\n{rows[1]['actors']}", "", rows[2]["actors"]]


@pytest.mark.parametrize("count", [1, 2])
def test_the_image_prefix_then_its_tail_give_what_the_whole_encoder_gives(pixels, count):
    full = encoder("image_encoder", "efficientnet-lite")
    split = encoder("image_encoder", "efficientnet-lite", trainable_blocks=count)
    with torch.inference_mode():
        whole, prefix = full.encode(pixels), split.encode(pixels)
        pooled, tokens, mask = split.tail().eval()(prefix.tokens, prefix.mask)
    assert prefix.tokens.shape == (4, 81, 208) and split.info().dim == split.info().token_dim == 208
    assert torch.allclose(prefix.pooled, prefix.tokens.mean(dim=1))
    assert (pooled - whole.pooled).abs().max() < 1e-5 and (tokens - whole.tokens).abs().max() < 1e-5
    assert mask.all() and mask.shape == whole.mask.shape


@pytest.mark.parametrize("count", [1, 2])
def test_the_text_prefix_then_its_tail_give_what_the_whole_encoder_gives(count):
    full = encoder("text_encoder", "minilm")
    split = encoder("text_encoder", "minilm", trainable_layers=count)
    with torch.inference_mode():
        whole, prefix = full.encode(texts()), split.encode(texts())
        pooled, tokens, mask = split.tail().eval()(prefix.tokens, prefix.mask)
    real = whole.mask.unsqueeze(-1)
    assert (pooled - whole.pooled).abs().max() < 1e-5
    assert ((tokens - whole.tokens) * real).abs().max() < 1e-5 and torch.equal(mask, whole.mask)
    assert not torch.allclose(prefix.tokens * real, whole.tokens * real, atol=1e-2)  # the prefix is not the end


def test_no_trainable_layers_keeps_the_identity_and_the_features(pixels):
    default, zero = (
        encoder("image_encoder", "efficientnet-lite"),
        encoder("image_encoder", "efficientnet-lite", trainable_blocks=0),
    )
    assert zero.fingerprint() == default.fingerprint() and "trainable_blocks" not in zero.identity()["params"]
    assert encoder("image_encoder", "efficientnet-lite", trainable_blocks=1).fingerprint() != default.fingerprint()
    text = encoder("text_encoder", "minilm", trainable_layers=0)
    assert text.fingerprint() == encoder("text_encoder", "minilm").fingerprint() and not text.has_tail()
    with torch.inference_mode():
        assert torch.equal(zero.encode(pixels).tokens, default.encode(pixels).tokens)
    assert default.info().dim == 1280 and not default.has_tail()


def test_a_tail_needs_one_view():
    from mmgenre.errors import MmgenreError

    with pytest.raises((MmgenreError, ValueError), match="views"):
        REGISTRY.create("image_encoder", "efficientnet-lite", {"trainable_blocks": 1, "views": "center+flip"})


def test_the_image_tail_keeps_its_batchnorm_statistics_while_training():
    tail = encoder("image_encoder", "efficientnet-lite", variant="lite0", trainable_blocks=1).tail().train()
    norms = [m for m in tail.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms) and tail.blocks.training
    learning = encoder("image_encoder", "efficientnet-lite", variant="lite0", trainable_blocks=1, train_batchnorm=True)
    assert all(m.training for m in learning.tail().train().modules())


def test_the_tails_get_their_own_learning_rate_and_warm_up():
    from mmgenre.training.tails import TailedHead

    model = TailedHead(torch.nn.Linear(4, 2), {"image": torch.nn.Linear(3, 4)}, head_tokens=False)
    spec = TrainSpec(lr=1e-3, encoder_lr=1e-5, encoder_weight_decay=0.1, warmup_epochs=2)
    optimizer = make_optimizer(model, spec)
    head, tails = optimizer.param_groups
    assert head["lr"] == 1e-3 and head["weight_decay"] == 0 and len(head["params"]) == 2
    assert tails["weight_decay"] == 0.1 and len(tails["params"]) == 2
    scheduler = warm_up(optimizer, spec, steps_per_epoch=5)  # 10 steps of warm-up
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(1e-6) and rates[9] == rates[11] == pytest.approx(1e-5)
    assert optimizer.param_groups[0]["lr"] == 1e-3
    plain = make_optimizer(torch.nn.Linear(4, 2), spec)
    assert len(plain.param_groups) == 1 and warm_up(plain, spec, 5) is None


@pytest.fixture(scope="module")
def tailed_run(posters_dir, session_cache, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "tails"
    result = train_cli(TINY_FINETUNE, posters_dir, session_cache, out)
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_training_moves_the_tails_and_the_cache_holds_the_prefixes(tailed_run, session_cache):
    from safetensors.torch import load_file

    run, _ = tailed_run
    state = load_file(run / "model.safetensors")
    image = encoder("image_encoder", "efficientnet-lite", variant="lite0", trainable_blocks=1)
    text = encoder("text_encoder", "minilm", trainable_layers=1)
    for side, component in (("image", image), ("text", text)):
        pretrained = component.tail().state_dict()
        trained = {k.removeprefix(f"tails.{side}."): v for k, v in state.items() if k.startswith(f"tails.{side}.")}
        assert set(trained) == set(pretrained)
        moved = [k for k, v in pretrained.items() if v.is_floating_point() and not torch.equal(v, trained[k])]
        assert len(moved) > len(pretrained) // 3, side
    with FeatureCache(session_cache) as cache:
        names = {space.name for space in cache.namespaces()}
    for component in (image, text):
        assert f"{component.kind}/{component.name}/{component.fingerprint()}/tokens" in names
    dims = json.loads((run / "run.json").read_text())["dims"]
    assert dims["image_tokens"] == 192 and dims["text_tokens"] == 384  # the prefixes' widths


def test_a_run_with_tails_gives_the_same_scores_after_it_is_loaded(tailed_run, cli, posters_dir, session_cache):
    run, metrics = tailed_run
    result = cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    saved = np.load(run / "scores.npz")
    ids, scores = list(saved["test_ids"]), saved["test_scores"]
    files = {row["imdb_id"]: POSTERS / row["file"] for row in poster_rows(72)}
    result = cli("predict", run, *[files[i] for i in ids[:3]], "--cache-dir", session_cache, "--json")
    assert result.exit_code == 0, result.stderr
    labels = json.loads((run / "run.json").read_text())["labels"]
    for row, prediction in enumerate(json.loads(result.stdout)["predictions"]):
        predicted = np.array([prediction["scores"][label] for label in labels])
        assert np.abs(predicted - scores[row]).max() < 1e-3


def test_exporting_a_run_with_tails_is_refused_and_writes_nothing(tailed_run, cli, tmp_path):
    run, _ = tailed_run
    result = cli("export", run, "--out", tmp_path / "onnx")
    assert result.exit_code == 1
    assert "trains its last layers" in result.stderr or "train their last layers" in result.stderr
    assert "nothing was exported" in result.stderr and not (tmp_path / "onnx").exists()
