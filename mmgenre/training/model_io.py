"""Rebuilding a trained head from its run folder, checked against the components installed now."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmgenre.components import KINDS, FusionContext
from mmgenre.errors import RunError
from mmgenre.recipe import ResolvedRecipe, resolve_recipe
from mmgenre.registry import Registry
from mmgenre.training.ensemble import build_model
from mmgenre.training.run_folder import RunFolder, RunInfo


@dataclass
class TrainedModel:
    recipe: ResolvedRecipe
    model: torch.nn.Module
    thresholds: np.ndarray
    info: RunInfo
    run: RunFolder


def load_trained(path: str, device: str = "cpu", registry: Registry | None = None) -> TrainedModel:
    """The recipe, weights and thresholds of a run; the weights file never runs code (safetensors)."""
    run = RunFolder(path)
    if not run.path.is_dir():
        raise RunError(f"run folder {run.path} does not exist")
    info = run.info()
    recipe = resolve_recipe(run.recipe_data(), str(run.path / "recipe.yaml"), registry=registry)
    if recipe.labels != info.labels:
        raise RunError(
            f"{run.path}: run.json and recipe.yaml name different genres ({len(info.labels)} and "
            f"{len(recipe.labels)}): the run folder was edited or mixed from two runs"
        )
    check_components(run, info, recipe)
    context = FusionContext(info.labels, info.feature_dims(), recipe.image_encoder, recipe.text_encoder, device)
    model = build_model(recipe, context)
    try:
        model.load_state_dict(run.state())
    except RuntimeError as error:
        raise RunError(f"{run.path}: the weights do not fit the recipe's head: {str(error)[:300]}") from None
    return TrainedModel(recipe, model.to(device).eval(), np.array(run.thresholds()), info, run)


FEATURE_MAKERS = ("ocr", "image_encoder", "text_encoder")


def check_components(run: RunFolder, info: RunInfo, recipe: ResolvedRecipe) -> None:
    """A component whose outputs changed since training is named, with both sides: feature makers (OCR,
    encoders) by fingerprint (version and output-relevant params); heads and losses by version (a new param
    with a default changes their fingerprint, not what the saved weights mean)."""
    for key, then in info.components.items():
        now = recipe.provenance.get(key)
        field = "fingerprint" if key in FEATURE_MAKERS else "version"
        if now is None or now.get(field) == then.get(field):
            continue
        label = KINDS[key].label if key in KINDS else key
        raise RunError(
            f"{run.path}: the {label} '{then.get('name')}' has changed since this run was trained: it was version "
            f"{then.get('version')} from {then.get('package')} {then.get('package_version')} (fingerprint "
            f"{then.get('fingerprint')}), it is now version {now['version']} from {now['package']} "
            f"{now['package_version']} (fingerprint {now['fingerprint']}). Its features no longer match the trained "
            "head: train again, or install the version the run was trained with"
        )
