"""`mmgenre report`: every figure exists and is a valid PNG, and the page renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import train_cli
from PIL import Image

from mmgenre.evaluation.significance import paired_bootstrap, weighted_macro_f1


@pytest.fixture(scope="module")
def report(cli, tiny_run, session_cache, tmp_path_factory):
    run, _ = tiny_run
    second = tmp_path_factory.mktemp("second") / "seed1"
    trained = train_cli(run / "recipe.yaml", _data(run), session_cache, second, "train.seed=1")
    assert trained.exit_code == 0, trained.stderr
    out = tmp_path_factory.mktemp("report")
    result = cli("report", run, second, "--out", out, "--cache-dir", session_cache)
    assert result.exit_code == 0, result.stderr
    return out


def _data(run):
    import json

    return json.loads((run / "run.json").read_text())["data"]["params"]["path"]


def test_every_referenced_figure_exists_and_is_a_valid_png(report):
    markdown = (report / "report.md").read_text()
    referenced = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert {"genre_f1.png", "precision_recall.png", "confusion.png", "training.png", "examples.png"} <= set(referenced)
    for name in referenced:
        with Image.open(report / name) as image:
            image.verify()
        with Image.open(report / name) as image:
            assert image.format == "PNG" and image.width > 300 and np.asarray(image.convert("L")).std() > 5
    page = (report / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(referenced)  # self-contained
    assert "tiny" in page and "reference: top-3 frequent" in page
    assert "paired bootstrap" in page and "95% CI" in page


def test_the_page_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "scripts/test.sh installs Debian's chromium for this test"
    screenshot = tmp_path / "page.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1200,3000",
            (report / "index.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=float)
    assert pixels.std() > 20  # text, tables and figures were drawn, not a blank page
    assert (pixels < 100).mean() > 0.01


def test_weighted_macro_f1_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    targets, predicted = rng.random((50, 4)) > 0.6, rng.random((50, 4)) > 0.5
    assert weighted_macro_f1(np.ones((1, 50)), targets, predicted)[0] == pytest.approx(
        f1_score(targets, predicted, average="macro", zero_division=0)
    )
    weights = rng.multinomial(50, np.full(50, 1 / 50), size=1)[0]
    repeated = np.repeat(np.arange(50), weights)
    assert weighted_macro_f1(weights[None].astype(float), targets, predicted)[0] == pytest.approx(
        f1_score(targets[repeated], predicted[repeated], average="macro", zero_division=0)
    )


def test_paired_bootstrap_sees_a_real_difference_and_no_difference():
    rng = np.random.default_rng(1)
    targets = rng.random((400, 5)) > 0.7
    good = targets ^ (rng.random(targets.shape) > 0.9)  # 10% of labels flipped
    bad = targets ^ (rng.random(targets.shape) > 0.6)  # 40% flipped
    clear = paired_bootstrap(targets, [good], [bad], resamples=500)
    assert clear.difference > 0.2 and clear.ci_low > 0 and clear.p_value < 0.01
    assert clear.describe().endswith("p < 0.001)")  # no resample crossed zero: not "p = 0.000"
    same = paired_bootstrap(targets, [good], [good], resamples=500)
    assert same.difference == 0 and same.ci_low == same.ci_high == 0
