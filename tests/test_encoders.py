"""Encoders: offline pretrained weights verified on real posters; CLIP loaded from local random-init
checkpoints through the real loading code; a clear, immediate error when weights can't be had."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import POSTERS, REGISTRY, poster_rows, train_cli

from mmgenre.data.images import load_image
from mmgenre.errors import ComponentUnavailableError

POSTER_LIKE = {
    "comic book",
    "book jacket, dust cover, dust jacket, dust wrapper",
    "web site, website, internet site, site",
    "menu",
    "envelope",
    "theater curtain, theatre curtain",
    "cinema, movie theater, movie theatre, movie house, picture palace",
}


def create(kind: str, name: str, **params):
    return REGISTRY.create(kind, name, params)


@pytest.fixture(scope="module")
def poster_images():
    return [load_image(POSTERS / row["file"]) for row in poster_rows(10)]


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_efficientnet_lite_weights_recognise_posters_as_poster_like_things(variant, poster_images):
    from timm.data import ImageNetInfo

    encoder = create("image_encoder", "efficientnet-lite", variant=variant)
    pixels = torch.stack([encoder.preprocess(image) for image in poster_images])
    info, classes = ImageNetInfo(), []
    with torch.inference_mode():
        pretrained = encoder.build_model(pretrained=True)(pixels).softmax(-1)
        random = encoder.build_model(pretrained=False)(pixels).softmax(-1)
    poster_like = [i for i in range(1000) if info.index_to_description(i) in POSTER_LIKE]
    mass = pretrained[:, poster_like].sum(-1)
    for row in pretrained.topk(5).indices:
        classes.append({info.index_to_description(int(i)) for i in row})
    assert sum(bool(top & POSTER_LIKE) for top in classes) >= 7  # most posters look like posters
    assert mass.mean() > 0.3
    assert random[:, poster_like].sum(-1).mean() < 0.05  # random weights know nothing about posters
    assert not torch.allclose(pretrained, random)


def test_efficientnet_lite_gives_pooled_vectors_and_feature_map_tokens(poster_images):
    encoder = create("image_encoder", "efficientnet-lite", variant="lite0")
    encoder.load("cpu")
    with torch.inference_mode():
        out = encoder.encode(torch.stack([encoder.preprocess(i) for i in poster_images[:2]]))
    assert out.pooled.shape == (2, 1280) and out.tokens.shape == (2, 49, 1280) and out.mask.all()
    assert torch.allclose(out.tokens.mean(1), out.pooled, atol=1e-5)
    assert encoder.info().preprocessing["resolution"] == 224 and encoder.info().preprocessing["mean"] == (0.5,) * 3


def test_minilm_embeds_meaning():
    encoder = create("text_encoder", "minilm")
    encoder.load("cpu")
    with torch.inference_mode():
        out = encoder.encode(["a terrifying haunted house", "a scary ghost story", "a romantic comedy wedding", ""])
    pooled = out.pooled
    assert pooled.shape == (4, 384) and torch.allclose(pooled.norm(dim=-1)[:3], torch.ones(3), atol=1e-4)
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2] + 0.1
    assert out.tokens.shape[:2] == out.mask.shape and out.mask[3].sum() == 2  # [CLS] [SEP] for ""


TINY_OPEN_CLIP = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def open_clip_folder(tmp_path_factory):
    """A random-init open_clip model saved the way open_clip saves models (config + safetensors)."""
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("open_clip_tiny")
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_OPEN_CLIP)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_OPEN_CLIP, "preprocess_cfg": {}}))
    return folder


def test_open_clip_loads_a_local_folder_and_encodes_both_modalities(open_clip_folder, poster_images):
    image_encoder = create("image_encoder", "open-clip", weights=str(open_clip_folder))
    text_encoder = create("text_encoder", "open-clip", weights=str(open_clip_folder))
    image_encoder.load("cpu")
    text_encoder.load("cpu")
    assert image_encoder._model is text_encoder._model  # one model serves both towers
    with torch.inference_mode():
        images = image_encoder.encode(torch.stack([image_encoder.preprocess(i) for i in poster_images[:3]]))
        texts = text_encoder.encode(["THE MATRIX", "a much longer line of poster text"])
    assert images.pooled.shape == (3, 32) and images.tokens.shape == (3, 16, 64)
    assert texts.pooled.shape == (2, 32) and texts.mask.sum(1).tolist()[0] < texts.mask.sum(1).tolist()[1]
    import open_clip

    own = open_clip.create_model(f"local-dir:{open_clip_folder}", pretrained=None, require_pretrained=True).eval()
    with torch.inference_mode():
        reference = own.encode_image(torch.stack([image_encoder.preprocess(poster_images[0])]))
    assert torch.allclose(images.pooled[:1], reference, atol=1e-5)  # same numbers as open_clip's own path
    assert image_encoder.info().dim == 32 and image_encoder.info().preprocessing["resolution"] == 64
    assert "weights_stamp" in image_encoder.identity()


def test_open_clip_loads_a_weights_file_for_a_named_architecture(open_clip_folder, tmp_path):
    import open_clip

    config = tmp_path / "mmgenre-tiny-clip.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    encoder = create(
        "image_encoder",
        "open-clip",
        model="mmgenre-tiny-clip",
        weights=str(open_clip_folder / "open_clip_model.safetensors"),
    )
    encoder.load("cpu")
    assert encoder.info().dim == 32


@pytest.fixture(scope="module")
def hf_clip_folder(tmp_path_factory):
    """A random-init transformers CLIPModel and a CLIP tokenizer, saved with save_pretrained."""
    import string

    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("hf_clip_tiny")
    config = CLIPConfig(
        projection_dim=16,
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "vocab_size": 200,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    chars = string.ascii_lowercase + string.digits + "!'.,:-"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in list(chars) + [c + "</w>" for c in chars]:
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>").save_pretrained(
        folder
    )
    return folder


def test_hf_clip_loads_a_local_folder_and_encodes_both_modalities(hf_clip_folder, poster_images):
    image_encoder = create("image_encoder", "hf-clip", weights=str(hf_clip_folder))
    text_encoder = create("text_encoder", "hf-clip", weights=str(hf_clip_folder))
    image_encoder.load("cpu")
    text_encoder.load("cpu")
    with torch.inference_mode():
        images = image_encoder.encode(torch.stack([image_encoder.preprocess(i) for i in poster_images[:2]]))
        texts = text_encoder.encode(["alien", "the terminator 2"])
        reference = image_encoder._model.get_image_features(
            pixel_values=torch.stack([image_encoder.preprocess(poster_images[0])])
        )
    reference = getattr(reference, "pooler_output", reference)
    assert images.pooled.shape == (2, 16) and images.tokens.shape == (2, 17, 32)
    assert torch.allclose(images.pooled[:1], reference, atol=1e-5)
    assert texts.pooled.shape == (2, 16) and texts.mask.sum(1)[0] < texts.mask.sum(1)[1]


@pytest.mark.parametrize(
    ("kind", "name", "params", "message"),
    [
        ("image_encoder", "open-clip", {}, "tried the local Hugging Face cache; the hub (unreachable"),
        (
            "text_encoder",
            "open-clip",
            {"model": "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"},
            "the hub (unreachable",
        ),
        ("image_encoder", "hf-clip", {}, "tried the local Hugging Face cache; the hub (unreachable"),
        (
            "image_encoder",
            "open-clip",
            {"pretrained": "nope"},
            "unknown pretrained tag 'nope' for ViT-B-32; known: openai",
        ),
        ("image_encoder", "open-clip", {"model": "ViT-X-99"}, "unknown open_clip architecture 'ViT-X-99'"),
        ("image_encoder", "open-clip", {"weights": "/no/such/file.pt"}, "/no/such/file.pt (it does not exist)"),
    ],
)
def test_missing_weights_fail_with_what_was_tried_and_how_to_provide_them(kind, name, params, message):
    encoder = create(kind, name, **params)
    with pytest.raises(ComponentUnavailableError) as error:
        encoder.load("cpu")
    assert message in str(error.value)
    if "unknown" not in message:
        assert f"--set {kind}.params.weights=" in str(error.value)


def test_a_corrupt_weights_file_is_reported(tmp_path):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ComponentUnavailableError, match=f"the local file {bad}"):
        create("image_encoder", "open-clip", weights=str(bad)).load("cpu")


@pytest.mark.slow  # more than 5 s here (kept out of `-m unit`)
def test_unreachable_hub_fails_at_once_without_hf_hub_offline(tmp_path):
    """No HF_HUB_OFFLINE: the hub is probed (here: a closed local port) instead of retried for a minute."""
    code = (
        "from mmgenre.registry import Registry\n"
        "from mmgenre.errors import ComponentUnavailableError\n"
        "try:\n    Registry.from_entry_points().create('image_encoder', 'open-clip', {}).load('cpu')\n"
        "except ComponentUnavailableError as e:\n    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT="https://127.0.0.1:9", HF_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "the hub (unreachable" in result.stdout, result.stderr


def test_gpu_decoding_code_matches_pil_preprocessing_on_the_cpu(poster_images):
    """The nvJPEG path's crop/resize/normalise, run here on the CPU: close to the PIL path's embeddings."""
    from torchvision.io import read_file

    from mmgenre.features.gpu_decode import crop_resize_normalise, decode_jpegs

    encoder = create("image_encoder", "efficientnet-lite", variant="lite0")
    encoder.load("cpu")
    files = [POSTERS / row["file"] for row in poster_rows(10)]
    decoded = decode_jpegs([read_file(str(f)) for f in files], "cpu")
    fast = crop_resize_normalise(decoded, encoder.info().preprocessing)
    exact = torch.stack([encoder.preprocess(image) for image in poster_images])
    assert fast.shape == exact.shape == (10, 3, 224, 224)
    with torch.inference_mode():
        cosine = torch.nn.functional.cosine_similarity(encoder.encode(fast).pooled, encoder.encode(exact).pooled)
    assert cosine.mean() > 0.97
    assert decode_jpegs([torch.frombuffer(bytearray(b"\xff\xd8\xff garbage"), dtype=torch.uint8)], "cpu") == [None]


def test_zero_shot_clip_runs_end_to_end_without_training(cli, open_clip_folder, posters_dir, session_cache, tmp_path):
    recipe = tmp_path / "zero.yaml"
    recipe.write_text(
        "extends: paper\nname: zero-shot\nocr: null\n"
        f"image_encoder: {{name: open-clip, params: {{weights: '{open_clip_folder}'}}}}\n"
        f"text_encoder: {{name: open-clip, params: {{weights: '{open_clip_folder}'}}}}\n"
        "fusion: {name: zero-shot-clip}\n"
    )
    result = train_cli(recipe, posters_dir, session_cache, tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "run"
    assert (run / "history.jsonl").read_text() == "" and json.loads((run / "run.json").read_text())["best_epoch"] == 0
    report = json.loads(cli("eval", run, "--data", posters_dir, "--cache-dir", session_cache, "--json").stdout)
    assert 0 <= report["macro_f1"] <= 1  # random weights: no claim about accuracy
