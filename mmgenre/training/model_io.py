"""Rebuilding a trained head from its run folder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmgenre.components import FusionContext
from mmgenre.errors import RunError
from mmgenre.recipe import ResolvedRecipe, resolve_recipe
from mmgenre.training.run_folder import RunFolder, RunInfo


@dataclass
class TrainedModel:
    recipe: ResolvedRecipe
    model: torch.nn.Module
    thresholds: np.ndarray
    info: RunInfo
    run: RunFolder


def load_trained(path: str, device: str = "cpu") -> TrainedModel:
    """The recipe, weights and thresholds of a run; the weights file never runs code (safetensors)."""
    run = RunFolder(path)
    if not run.path.is_dir():
        raise RunError(f"run folder {run.path} does not exist")
    info = run.info()
    recipe = resolve_recipe(run.recipe_data(), str(run.path / "recipe.yaml"))
    context = FusionContext(info.labels, info.feature_dims(), recipe.image_encoder, recipe.text_encoder, device)
    model = recipe.fusion.build(context)
    try:
        model.load_state_dict(run.state())
    except RuntimeError as error:
        raise RunError(f"{run.path}: the weights do not fit the recipe's head: {str(error)[:300]}") from None
    return TrainedModel(recipe, model.to(device).eval(), np.array(run.thresholds()), info, run)
