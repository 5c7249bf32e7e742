"""The training loop: Adam on cached features, validation every epoch, early stopping, best weights kept."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from mmgenre.evaluation.metrics import mean_average_precision
from mmgenre.evaluation.thresholds import tune_thresholds
from mmgenre.features.allocator import keep_freed_memory
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.progress import progress_bar
from mmgenre.recipe import TrainSpec
from mmgenre.training.scoring import predict_scores
from mmgenre.training.tails import tail_parameters

log = logging.getLogger("mmgenre")


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    history: list[dict] = field(default_factory=list)


def seed_everything(seed: int) -> torch.Generator:
    """Same seed, same numbers (on the CPU): seeds torch and asks for deterministic kernels."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def validation_metrics(targets: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    tuned = tune_thresholds(targets, scores)
    return {
        "macro_f1": float(f1_score(targets, scores >= 0.5, average="macro", zero_division=0)),
        "macro_f1_tuned": float(f1_score(targets, scores >= tuned, average="macro", zero_division=0)),
        "map": mean_average_precision(targets, scores),
    }


def make_optimizer(model: torch.nn.Module, spec: TrainSpec) -> torch.optim.Optimizer:
    """The head's parameters at `lr`; the encoders' trainable tails, if any, in a second group at `encoder_lr`."""
    kind = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    tails = tail_parameters(model)
    in_tails = {id(p) for p in tails}
    groups: list[dict] = [{"params": [p for p in model.parameters() if id(p) not in in_tails]}]
    if tails:
        decay = spec.weight_decay if spec.encoder_weight_decay is None else spec.encoder_weight_decay
        groups.append({"params": tails, "lr": spec.encoder_lr or spec.lr, "weight_decay": decay})
    return kind(groups, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)


def warm_up(optimizer: torch.optim.Optimizer, spec: TrainSpec, steps_per_epoch: int):
    """A linear warm-up of the tails' learning rate over `warmup_epochs` (None: no tails or no warm-up)."""
    if len(optimizer.param_groups) < 2 or spec.warmup_epochs <= 0:
        return None
    steps = max(1, round(spec.warmup_epochs * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, [lambda step: 1.0, lambda step: min(1.0, (step + 1) / steps)])


def moving_average(model: torch.nn.Module, decay: float | None):
    """An exponential moving average of the model's weights and buffers, updated after every step (None: off)."""
    if decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def fit(
    model: torch.nn.Module,
    loss_fn: torch.nn.Module,
    train: FeatureSet,
    train_targets: np.ndarray,
    val: FeatureSet,
    val_targets: np.ndarray,
    spec: TrainSpec,
    device: str = "cpu",
    progress: bool | None = None,
) -> FitResult:
    """Train until `max_epochs` or `patience` epochs without a better `monitor` value on validation."""
    keep_freed_memory()
    generator = seed_everything(spec.seed)
    model.to(device)
    loss_fn.to(device)
    optimizer = make_optimizer(model, spec)
    scheduler = warm_up(optimizer, spec, math.ceil(len(train) / spec.batch_size))
    targets = torch.from_numpy(train_targets).float()
    averaged = moving_average(model, spec.ema)
    kept = averaged.module if averaged is not None else model  # the weights validated and kept
    best, best_epoch, best_state, history = -math.inf, 0, copy.deepcopy(kept.state_dict()), []
    for epoch in range(1, spec.max_epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator).numpy()
        total, batches = 0.0, 0
        with progress_bar(len(order), f"epoch {epoch}", progress, unit="poster") as bar:
            for start in range(0, len(order), spec.batch_size):
                positions = order[start : start + spec.batch_size]
                logits = model(train.batch(positions, device))
                loss = loss_fn(logits, targets[positions].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                if averaged is not None:
                    averaged.update_parameters(model)
                total, batches = total + loss.item(), batches + 1
                bar.update(len(positions))
        metrics = validation_metrics(val_targets, predict_scores(kept, val, device=device))
        history.append(
            {"epoch": epoch, "train_loss": total / max(batches, 1), **{f"val_{k}": v for k, v in metrics.items()}}
        )
        score = metrics[spec.monitor]
        log.info(
            "epoch %d: loss %.4f, val macro-F1 %.4f (tuned %.4f), mAP %.4f",
            epoch,
            history[-1]["train_loss"],
            metrics["macro_f1"],
            metrics["macro_f1_tuned"],
            metrics["map"],
        )
        if score > best:
            best, best_epoch, best_state = score, epoch, copy.deepcopy(kept.state_dict())
        elif epoch - best_epoch >= spec.patience:
            break
    model.load_state_dict(best_state)
    return FitResult(best_state, best_epoch, history)
