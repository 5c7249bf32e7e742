"""Rebuild the bundled model `offline-best` (plugins/mmgenre_models/offline_best) from the shared posters.

    .venv/bin/python scripts/build_model.py                 # rebuild into runs/bundled-offline-best, compare
    .venv/bin/python scripts/build_model.py --install       # ... and replace the bundled copy with it

Trains the offline-best recipe (seed 0; train split for the weights, validation split for the thresholds),
evaluates it on the test split and on the second poster collection, stores the weights in float16 when that
keeps every test score within 1e-3 of float32, and writes the model card. It says whether the rebuilt
weights differ from the bundled ones, and by how much.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "plugins" / "mmgenre_models" / "offline_best"
FP16_TOLERANCE = 1e-3
MMGENRE = [sys.executable, "-m", "mmgenre"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "posters"))
    parser.add_argument("--second", default=str(ROOT.parent / "shared" / "data" / "posters-kaggle"))
    parser.add_argument("--work", default=str(ROOT / "runs" / "bundled-offline-best"))
    parser.add_argument("--install", action="store_true", help="replace the bundled model with the rebuilt one")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work)
    run([*MMGENRE, "train", "offline-best", "--data", args.data, "--out", str(work), "--overwrite", "--json"])
    second = json.loads(run([*MMGENRE, "eval", str(work), "--data", args.second, "--split", "all", "--json"]))
    half = to_float16(work, args.data)
    write_card(work, second, half)
    compare(work, BUNDLED)
    if args.install:
        install(work, BUNDLED)


def run(command: list[str]) -> str:
    print("$", " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


def to_float16(work: Path, data: str) -> dict:
    """Store the weights in float16 if every test score stays within FP16_TOLERANCE; returns what was found."""
    import torch
    from safetensors.torch import load_file, save_file

    from mmgenre.evaluation.evaluate import evaluate_run
    from mmgenre.features.cache import FeatureCache
    from mmgenre.predictor import Predictor
    from mmgenre.registry import Registry
    from mmgenre.training.run_folder import MODEL_FILE, RunFolder

    registry, folder = Registry.from_entry_points(), RunFolder(work).folder
    state = load_file(str(work / MODEL_FILE))
    with FeatureCache(None) as cache:
        full = test_scores(Predictor, evaluate_run, work, cache, registry, data)
        with folder.file(MODEL_FILE) as path:
            save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(path))
        half = test_scores(Predictor, evaluate_run, work, cache, registry, data)
    gap = float(abs(full - half).max())
    if gap > FP16_TOLERANCE:  # keep float32
        with folder.file(MODEL_FILE) as path:
            save_file(state, str(path))
    print(f"float16 weights: largest test-score change {gap:.2e} ({'kept' if gap <= FP16_TOLERANCE else 'refused'})")
    return {"max_score_change": gap, "float16": gap <= FP16_TOLERANCE, "dtype": str(torch.float16)}


def test_scores(predictor_class, evaluate_run, run: Path, cache, registry, data: str):
    with predictor_class.load(run, store=cache, registry=registry) as predictor:
        return evaluate_run(predictor, data, registry, split="test").scores


def write_card(work: Path, second: dict, half: dict) -> None:
    from mmgenre.training.run_folder import RunFolder

    sys.path.insert(0, str(ROOT / "scripts"))
    from model_card import model_card

    folder = RunFolder(work)
    card = model_card(folder.metrics(), folder.info(), folder.thresholds(), second, half)
    folder.folder.write("MODEL_CARD.md", card)


def compare(work: Path, bundled: Path) -> None:
    """Say whether the rebuilt weights equal the bundled ones (training on a CPU is repeatable, not promised)."""
    from safetensors.numpy import load_file

    from mmgenre.training.run_folder import MODEL_FILE

    if not (bundled / MODEL_FILE).is_file():
        print("no bundled model to compare with")
        return
    new, old = load_file(str(work / MODEL_FILE)), load_file(str(bundled / MODEL_FILE))
    if new.keys() != old.keys() or any(new[k].shape != old[k].shape for k in new):
        print("the rebuilt model has other tensors than the bundled one")
        return
    gap = max(float(abs(new[k].astype("float64") - old[k].astype("float64")).max()) for k in new)
    print("rebuilt weights are identical to the bundled ones" if gap == 0 else f"rebuilt weights DIFFER: {gap:.3g}")


def install(work: Path, bundled: Path) -> None:
    """Copy the run folder's files (and its marker) over the bundled model's, through the guarded writer."""
    from mmgenre.files.writer import OutputFolder
    from mmgenre.training.run_folder import KIND, RunFolder

    names = sorted((RunFolder(work).folder.owned() | {"run.json"}) - {"scores.npz"})  # per-poster scores stay out
    target = OutputFolder(bundled, KIND).claim(overwrite=True)
    for name in names:
        target.write(name, (work / name).read_bytes())
    target.record(names)
    print(f"installed {len(names)} files into {bundled}")


if __name__ == "__main__":
    main()
