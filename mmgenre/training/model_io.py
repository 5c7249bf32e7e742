"""Rebuilding a trained head from its run folder, checked against the components installed now."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmgenre.components import KINDS, FusionContext
from mmgenre.errors import RunError, UnknownComponentError
from mmgenre.recipe import ResolvedRecipe, resolve_recipe
from mmgenre.registry import Registry
from mmgenre.training.ensemble import build_model
from mmgenre.training.run_folder import RunFolder, RunInfo
from mmgenre.training.run_info import install_hint


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
    registry = registry or Registry.from_entry_points()
    check_installed(run, info, registry)
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


def check_installed(run: RunFolder, info: RunInfo, registry: Registry) -> None:
    """A component the run was trained with that no loaded plugin provides is named with the package and version
    run.json recorded, and how to install it."""
    for key, then in info.components.items():
        name = then.get("name")
        if key not in KINDS or not isinstance(name, str) or provides(registry, key, name):
            continue
        raise RunError(
            f"{run.path} was trained with the {KINDS[key].label} '{name[:100]}', which no installed plugin provides: "
            f"{install_hint(then)}{registry.left_out_note()}"
        )


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


def provides(registry: Registry, kind: str, name: str) -> bool:
    """Whether a loaded plugin provides the component (under its name or an alias of it)."""
    try:
        registry.get(kind, name)
    except UnknownComponentError:
        return False
    return True
