"""benchmarks/gpu_finetune.py (with its _pack and _device modules), the GPU run of issue 23, on the CPU: a pack of 12
real posters (real EfficientNet-Lite2 weights, real MiniLM vectors), then both arms for one short epoch."""

from __future__ import annotations

import json
import math
import sys

import pytest
from conftest import ROOT, poster_rows, write_dataset

sys.path.append(str(ROOT / "benchmarks"))  # after the installed packages: benchmark scripts shadow none
import gpu_finetune  # noqa: E402
import gpu_finetune_pack  # noqa: E402


@pytest.mark.slow
def test_a_pack_of_real_posters_trains_both_arms_and_only_the_fine_tuned_backbone_moves(tmp_path):
    from mmgenre.api import load_dataset
    from mmgenre.recipe import load_recipe

    recipe = load_recipe(str(ROOT / gpu_finetune_pack.BASELINE))
    posters = load_dataset(write_dataset(tmp_path / "posters", poster_rows(12)), recipe.labels).posters
    split = {p.id: ("train", "val", "train", "test")[i % 4] for i, p in enumerate(posters)}
    texts = [f"{p.meta['title']}\n{p.meta['director']}" for p in posters]  # real text, standing in for OCR's
    vectors = dict(zip([p.id for p in posters], gpu_finetune_pack.encode_texts(recipe, texts)))
    info = gpu_finetune_pack.build_pack(recipe, posters, split, vectors, tmp_path, 30_000_000, check=1)
    assert info["posters"] == {"train": 6, "val": 3, "test": 3} and info["train_split_posters"] == 6
    assert info["fidelity"]["min_cosine"] > 0.97  # WebP (cosine ~0.99) and float16 weights (~0.99999)

    args = ["--device", "cpu", "--seeds", "0", "--epochs", "1", "--batch-size", "6", "--ocr-dropout", "0.3"]
    args += ["--out-dir", tmp_path / "out"]
    report = json.loads(gpu_finetune.main(["train", "--pack", str(tmp_path / "pack"), *map(str, args)]).read_text())

    assert list(report["arms"]) == ["frozen", "finetuned_ocr_dropout_0.3"]
    frozen, tuned = report["arms"]["frozen"], report["arms"]["finetuned_ocr_dropout_0.3"]
    assert [row["seed"] for row in frozen] == [row["seed"] for row in tuned] == [0]
    for row in frozen + tuned:
        assert all(
            math.isfinite(row[split][key]) for split in ("val", "test") for key in ("macro_f1", "micro_f1", "map")
        )
        assert set(row["test"]["per_genre_f1"]) == set(recipe.labels)
    assert frozen[0]["backbone_change"] == 0.0 and tuned[0]["backbone_change"] > 1e-5
    assert tuned[0]["epochs"] == 1 and tuned[0]["train_images_per_second"] > 0
    assert math.isfinite(report["summary"]["finetuned_ocr_dropout_0.3"]["test_macro_f1_minus_frozen"]["difference"])
    assert any("ran on cpu" in line for line in report["could_not"])
