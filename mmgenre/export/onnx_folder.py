"""Exporting a trained run to a folder of ONNX files: each component exports itself (`export_onnx`), and the
folder gets the run's recipe, a manifest with labels, thresholds and preprocessing, and its marker."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from pydantic import ValidationError

from mmgenre import __version__
from mmgenre.components.exporting import OPSET, ExportedPart
from mmgenre.errors import NotExportableError
from mmgenre.files.errors import writing
from mmgenre.files.reader import read_text
from mmgenre.files.schema import problems
from mmgenre.files.writer import OutputFolder
from mmgenre.onnx_runtime.manifest import KIND, MANIFEST, ExportManifest
from mmgenre.recipe import MAX_RECIPE_BYTES
from mmgenre.registry import Registry
from mmgenre.training.model_io import TrainedModel, load_trained


def export_onnx(run: str | Path, out: str | Path, *, registry: Registry | None = None) -> ExportManifest:
    """Export `run` into the folder `out` (new, empty, or an earlier export, whose files are replaced)."""
    folder = OutputFolder(out, KIND)
    folder.check(overwrite=True)  # before the run is loaded: a target that can't be written is said first
    trained = load_trained(str(run), "cpu", registry)
    staging = staging_folder(folder)
    try:
        manifest = export_parts(trained, staging)
        recipe = read_text(trained.run.path / "recipe.yaml", MAX_RECIPE_BYTES)
        (staging / "recipe.yaml").write_text(recipe, encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json"), indent=2), encoding="utf-8")
        folder.claim(overwrite=True)
        names = [*manifest.files(), "recipe.yaml", MANIFEST]  # the manifest last: a folder with one is whole
        for name in names:
            folder.target(name)  # each is new or ours: raise before anything moves
        (folder.path / MANIFEST).unlink(missing_ok=True)
        folder.record(names)
        for name in names:
            os.replace(staging / name, folder.path / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # our own staging folder
    return manifest


def staging_folder(folder: OutputFolder) -> Path:
    """A temporary folder on the file system of `folder`: beside it while it does not exist yet (so that an
    export that fails leaves no new folder behind), else inside it."""
    root = folder.path if folder.path.is_dir() else folder.path.parent
    if not root.is_dir():  # missing parents: they are made with the folder
        folder.claim(overwrite=True)
        root = folder.path
    with writing(root, "--out"):
        return Path(tempfile.mkdtemp(dir=root, prefix=f".{folder.path.name}.staging-"))


def export_parts(trained: TrainedModel, staging: Path) -> ExportManifest:
    """Every part the head needs, exported into `staging`; all the parts that can't be are named at once."""
    recipe, dims = trained.recipe, trained.info.feature_dims()
    needs = recipe.fusion.modalities()
    encoders = {
        "image_encoder": recipe.image_encoder if "image" in needs else None,
        "text_encoder": recipe.text_encoder if "text" in needs and recipe.ocr is not None else None,
    }
    refuse_tails(encoders)
    parts: dict[str, dict] = {}
    refusals: list[str] = []
    for key, encoder in encoders.items():
        if encoder is not None:
            try:
                parts[key] = {
                    **part_entry(encoder.name, encoder.export_onnx(staging, key)),
                    "identity": encoder.identity(),
                }
            except NotExportableError as error:
                refusals.append(str(error))
    try:
        head = recipe.fusion.export_onnx(trained.model, dims, staging / "fusion.onnx")
        parts["fusion"] = part_entry(recipe.fusion.name, head)
    except NotExportableError as error:
        refusals.append(str(error))
    if refusals:
        raise NotExportableError("; ".join(refusals) + ": nothing was exported")
    data = {
        "run": str(trained.run.path.resolve()),
        "labels": trained.info.labels,
        "thresholds": [float(t) for t in trained.thresholds],
        "ocr": recipe.ocr.name if encoders["text_encoder"] is not None and recipe.ocr is not None else None,
        "versions": versions(),
        **parts,
    }
    try:
        return ExportManifest.model_validate(data)
    except ValidationError as error:  # a plugin's preprocessing the runtime can't repeat
        problem = problems(error)
        raise NotExportableError(f"the exported parts can't be described for the ONNX runtime: {problem}") from None


def refuse_tails(encoders: dict) -> None:
    """A run whose encoders train their last layers with the head keeps those layers in its weights: the ONNX
    runtime would run the whole frozen encoders instead, so such a run is not exported."""
    tailed = [
        f"the {encoder.kind_label} '{encoder.name}'" for encoder in encoders.values() if encoder and encoder.has_tail()
    ]
    if tailed:
        raise NotExportableError(
            f"in this run, {' and '.join(tailed)} {'train their' if len(tailed) > 1 else 'trains its'} last "
            "layers with the head (trainable_blocks or "
            "trainable_layers in the recipe), and exporting those layers to ONNX is not implemented: nothing was "
            "exported; use `mmgenre predict` with the run folder"
        )


def part_entry(component: str, part: ExportedPart) -> dict:
    return {"component": component, **asdict(part)}


def versions() -> dict[str, str]:
    import onnx
    import torch

    return {"mmgenre": __version__, "torch": torch.__version__, "onnx": onnx.__version__, "opset": str(OPSET)}
