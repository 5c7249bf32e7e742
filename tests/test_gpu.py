"""CUDA paths (nvJPEG and nvImageCodec decoding, bf16, training, batched OCR on the GPU): run with `pytest -m gpu`
on a machine with a GPU; the nvImageCodec and onnxruntime-gpu tests skip, saying so, where those aren't installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import POSTERS, REGISTRY, poster_rows, train_cli

from mmgenre.features.cache import FeatureCache
from mmgenre.features.pipeline import extract_features
from mmgenre.recipe import load_recipe

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def paths():
    assert torch.cuda.is_available(), "these tests need a CUDA GPU"
    return [POSTERS / row["file"] for row in poster_rows(128)]


def image_features(paths, cache_dir, *overrides):
    recipe = load_recipe(
        "paper-offline",
        [
            "fusion.name=image-only",
            "image_encoder.params.variant=lite0",
            "features.device=cuda",
            "features.batch_size=64",
            *overrides,
        ],
    )
    with FeatureCache(cache_dir) as cache:
        return extract_features(recipe, paths, cache, progress=False)


def test_gpu_decoding_and_bf16_match_the_cpu_preprocessing(paths, tmp_path):
    fast = image_features(paths, tmp_path)
    exact = image_features(paths, tmp_path, "features.decode=cpu", "features.precision=fp32")
    assert len(fast) == len(exact) == len(paths)
    a, b = fast.arrays["image"], exact.arrays["image"]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.mean() > 0.97 and cosine.min() > 0.9, f"cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}"
    with FeatureCache(tmp_path) as cache:
        outputs = {row.output for row in cache.info()}
    assert {"pooled@gpu-decode@bf16", "pooled"} <= outputs  # cached apart


def test_training_on_the_gpu(posters_dir, session_cache, tiny_recipe, tmp_path):
    settings = ["train.device=cuda", "features.device=cuda", "fusion.name=image-only"]
    result = train_cli(tiny_recipe, posters_dir, session_cache, tmp_path / "run", *settings)
    assert result.exit_code == 0, result.stderr


def needs_nvimgcodec():
    from mmgenre.features.gpu_decode import NVIMGCODEC_HINT, nvimgcodec_available

    if not nvimgcodec_available():
        pytest.skip(f"nvImageCodec is not installed here ({NVIMGCODEC_HINT})")


def test_nvimgcodec_decodes_what_nvjpeg_decodes(paths):
    """Same posters through both GPU decoders: nearly the same crops and EfficientNet embeddings."""
    from torchvision.io import read_file

    from mmgenre.features.gpu_decode import crop_resize_normalise, decode_jpegs

    needs_nvimgcodec()
    encoder = REGISTRY.create("image_encoder", "efficientnet-lite", {"variant": "lite0"})
    encoder.load("cuda")
    datas = [read_file(str(path)) for path in paths[:64]]
    nvjpeg = decode_jpegs(datas, "cuda", "nvjpeg")
    nvimgcodec = decode_jpegs(datas, "cuda", "nvimgcodec")
    assert [tuple(image.shape) for image in nvimgcodec] == [tuple(image.shape) for image in nvjpeg]
    pixel_gap = torch.stack([(a.float() - b.float()).abs().mean() for a, b in zip(nvjpeg, nvimgcodec)])
    preprocessing = encoder.info().preprocessing
    a, b = crop_resize_normalise(nvjpeg, preprocessing), crop_resize_normalise(nvimgcodec, preprocessing)
    with torch.inference_mode():
        cosine = torch.nn.functional.cosine_similarity(encoder.encode(a).pooled, encoder.encode(b).pooled)
    print(f"mean pixel gap {pixel_gap.mean():.2f}/255, cosine mean {cosine.mean():.4f} min {cosine.min():.4f}")
    assert pixel_gap.max() < 4 and cosine.mean() > 0.99 and cosine.min() > 0.95
    garbage = torch.frombuffer(bytearray(b"\xff\xd8\xff garbage"), dtype=torch.uint8)
    assert decode_jpegs([datas[0], garbage], "cuda", "nvimgcodec")[1] is None


def test_nvimgcodec_features_are_cached_apart(paths, tmp_path):
    needs_nvimgcodec()
    fast = image_features(paths[:32], tmp_path, "features.decode=nvimgcodec")
    plain = image_features(paths[:32], tmp_path)
    a, b = fast.arrays["image"], plain.arrays["image"]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.mean() > 0.99, f"cosine mean {cosine.mean():.4f}"
    with FeatureCache(tmp_path) as cache:
        outputs = {row.output for row in cache.info()}
    assert {"pooled@nvimgcodec@bf16", "pooled@gpu-decode@bf16"} <= outputs


def test_batched_ocr_on_cuda_reads_what_the_cpu_reads(paths):
    """rapidocr det_batch=32 on CUDA (onnxruntime-gpu) against the same batched path on the CPU."""
    import onnxruntime

    from mmgenre.bench.ocr_quality import title_word_recall
    from mmgenre.data.images import load_image

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed here (pip install 'mmgenre[gpu]')")
    rows = poster_rows(128)
    images = [load_image(path) for path in paths]
    recalls = {}
    for device in ("cuda", "cpu"):
        engine = REGISTRY.create("ocr", "rapidocr", {"det_batch": 32, "device": device, "threads": 8})
        results = [r for start in range(0, len(images), 32) for r in engine.read_batch(images[start : start + 32])]
        assert not [r for r in results if isinstance(r, Exception)]
        found = [title_word_recall(row["title"], result.text) for row, result in zip(rows, results)]
        recalls[device] = float(np.mean([r for r in found if r is not None]))
    print(f"title-word recall: cuda {recalls['cuda']:.3f}, cpu {recalls['cpu']:.3f}")
    assert abs(recalls["cuda"] - recalls["cpu"]) <= 0.02 and recalls["cpu"] > 0.5
