"""Full fine-tuning of offline-best's image encoder on a GPU (issue 23), against the frozen recipe on the same posters.

`pack` (here, with the feature cache) writes what travels to a lent GPU machine: offline-best's seed-0 split, every
validation and test poster as the encoder's exact 260 x 260 input, as many training posters as fit (with a margin
for random crops), the recipe's pooled MiniLM vectors of their OCR text and of empty text (for OCR dropout), and
EfficientNet-Lite2's weights (convolutions in float16) as a stand-in weights package. `train` (there) trains per
seed the frozen arm (the recipe's head on frozen pooled features, with mmgenre's own training loop) and a fine-tuned
arm per --ocr-dropout value (the whole backbone with the head: AdamW, views augmented on the device, OCR dropout),
tunes thresholds on validation, scores the test split and writes finetune-gpu-<time>.json to $OUT (else
benchmarks/results).

    nice -n 19 .venv/bin/python benchmarks/gpu_finetune.py pack --out .device-finetune --max-bytes 50000000
    python3 benchmarks/gpu_finetune.py train --pack .device-finetune/pack --device cuda --budget-s 300
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from common import DEFAULT_POSTERS, RESULTS, ROOT, machine
from gpu_finetune_device import (
    BASELINE,
    HEADLINE,
    SPLITS,
    DeviceViews,
    Pack,
    load_pack,
    normalise,
    pack_backbone,
    pooled,
)

from mmgenre.files.writer import atomic_write


class Classifier(torch.nn.Module):
    """The whole backbone, pooled as the encoder pools, then the recipe's head on the image and text vectors."""

    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, pixels: torch.Tensor, text: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        return self.head({"image": pooled(self.backbone, pixels, bf16), "text": text})


def build_head(recipe, pack: Pack) -> torch.nn.Module:
    from mmgenre.api import FeatureDims, FusionContext

    dims = FeatureDims(image=1280, text=int(pack.empty_text.shape[0]))
    context = FusionContext(pack.labels, dims, recipe.image_encoder, recipe.text_encoder, str(pack.empty_text.device))
    return recipe.fusion.build(context).to(pack.empty_text.device)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().float().clone() for name, p in module.named_parameters()}


def weights_moved(before: dict[str, torch.Tensor], module: torch.nn.Module) -> float:
    """Relative L2 change of a module's parameters since `before` (0.0: untouched)."""
    now = dict(module.named_parameters())
    change = sum(float((now[k].detach().float() - v).pow(2).sum()) for k, v in before.items())
    return math.sqrt(change / sum(float(v.pow(2).sum()) for v in before.values()))


@torch.inference_mode()
def scores_of(model: Classifier, pack: Pack, split: str, size: int = 256) -> np.ndarray:
    """(N, C) float32 probabilities of a split's centre crops."""
    model.eval()
    crops, text = pack.centres[split], pack.text[split]
    parts = [
        model(normalise(crops[i : i + size], pack.preprocessing), text[i : i + size]) for i in range(0, len(text), size)
    ]
    return torch.sigmoid(torch.cat(parts)).float().cpu().numpy()


def arm_scores(pack: Pack, scores: dict[str, np.ndarray]) -> tuple[dict, np.ndarray]:
    """Thresholds tuned on validation (mmgenre's); headline metrics of both splits and per-genre test F1; the
    test split's predicted genres."""
    from mmgenre.evaluation.metrics import evaluate_scores
    from mmgenre.evaluation.thresholds import tune_thresholds

    thresholds = tune_thresholds(pack.targets["val"], scores["val"])
    out = {}
    for split in ("val", "test"):
        metrics = evaluate_scores(pack.targets[split], scores[split], thresholds, pack.labels)
        out[split] = {key: round(metrics[key], 4) for key in HEADLINE}
    per_genre = metrics["tuned"]["per_genre"]  # the test split's
    out["test"]["per_genre_f1"] = {genre: round(row["f1"], 4) for genre, row in per_genre.items()}
    return out, scores["test"] >= thresholds


def frozen_features(recipe, pack: Pack) -> tuple[dict[str, np.ndarray], float, float]:
    """Pooled float32 features of every split's centre crops with the frozen backbone; seconds; weights moved."""
    started = time.perf_counter()
    backbone = pack_backbone(recipe, pack.folder).to(pack.empty_text.device).eval()
    backbone = backbone.to(memory_format=torch.channels_last)
    before, features = snapshot(backbone), {}
    with torch.inference_mode():
        for split in SPLITS:
            crops = [normalise(part, pack.preprocessing) for part in pack.centres[split].split(256)]
            features[split] = torch.cat([pooled(backbone, part) for part in crops]).cpu().numpy()
    return features, time.perf_counter() - started, weights_moved(before, backbone)


def frozen_arm(recipe, pack: Pack, features: dict, seed: int) -> tuple[dict, np.ndarray]:
    """The recipe's head and training (mmgenre's loop: its optimiser, early stopping on validation) on frozen
    features."""
    from mmgenre.features.featureset import FeatureSet
    from mmgenre.training.loop import fit, seed_everything
    from mmgenre.training.scoring import predict_scores

    device = str(pack.empty_text.device)
    sets = {
        s: FeatureSet(np.arange(len(features[s])), {"image": features[s], "text": pack.text[s].cpu().numpy()})
        for s in SPLITS
    }
    seed_everything(seed)  # before the head is built, as mmgenre's train does
    head = build_head(recipe, pack)
    loss = recipe.loss.build(torch.from_numpy(pack.targets["train"].mean(axis=0)))
    spec = recipe.spec.train.model_copy(update={"seed": seed, "device": device})
    started = time.perf_counter()
    result = fit(
        head, loss, sets["train"], pack.targets["train"], sets["val"], pack.targets["val"], spec, device, False
    )
    torch.use_deterministic_algorithms(False)  # fit asks for deterministic kernels; the fine-tuned arm needs speed
    seconds = time.perf_counter() - started
    metrics, predicted = arm_scores(pack, {s: predict_scores(head, sets[s], device=device) for s in ("val", "test")})
    return {
        "seed": seed,
        **metrics,
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "seconds": round(seconds, 1),
    }, predicted


@dataclass
class Schedule:
    """The fine-tuned arm's optimisation: AdamW, backbone and head at their own rates, a linear warm-up then cosine
    decay over `epochs`; early stopping after `patience` epochs without a better validation macro-F1."""

    epochs: int = 40
    patience: int = 10
    batch_size: int = 64
    lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    ocr_dropout: float = 0.3  # the chance a training poster's text is replaced by the empty text's

    def optimiser(self, model: Classifier, steps_per_epoch: int):
        groups = [{"params": model.backbone.parameters(), "lr": self.lr}, {"params": model.head.parameters()}]
        optimizer = torch.optim.AdamW(groups, lr=self.head_lr, weight_decay=self.weight_decay)
        total, warm = self.epochs * steps_per_epoch, max(1, round(self.warmup_epochs * steps_per_epoch))

        def factor(step: int) -> float:
            return min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_epoch(
    model: Classifier, pack: Pack, views: DeviceViews, schedule: Schedule, parts: tuple, deadline: float
) -> dict:
    """One pass over the training posters in a random order, stopping at `deadline`: loss, images, seconds."""
    optimizer, scheduler, loss_fn, generator = parts
    model.train()
    device = pack.empty_text.device
    targets = torch.from_numpy(pack.targets["train"]).to(device)
    order = torch.randperm(len(targets), generator=generator).to(device)
    total, seen, started = torch.zeros((), device=device), 0, time.perf_counter()
    for batch in order.split(schedule.batch_size):
        if time.perf_counter() > deadline:
            break
        text = pack.text["train"][batch]
        dropped = (torch.rand(len(batch), generator=generator) < schedule.ocr_dropout).to(device).view(-1, 1)
        text = torch.where(dropped, pack.empty_text.expand_as(text), text)  # OCR dropout
        logits = model(views(pack.images["train"][batch], generator), text, bf16=device.type == "cuda")
        loss = loss_fn(logits.float(), targets[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total, seen = total + loss.detach() * len(batch), seen + len(batch)
    return {"loss": float(total) / max(seen, 1), "images": seen, "seconds": time.perf_counter() - started}


def finetune_arm(recipe, pack: Pack, seed: int, schedule: Schedule, deadline: float) -> tuple[dict, np.ndarray]:
    """The whole backbone and the head trained on device-made views; keeps the epoch with the best validation
    macro-F1 (thresholds tuned); stops after `patience` epochs without one, or at `deadline`."""
    from mmgenre.training.loop import validation_metrics

    torch.manual_seed(seed)  # transforms.v2 draws from torch's global generator
    generator = torch.Generator().manual_seed(seed)
    device = pack.empty_text.device
    model = Classifier(pack_backbone(recipe, pack.folder), build_head(recipe, pack)).to(device)
    model.backbone.to(memory_format=torch.channels_last)
    before, views = snapshot(model.backbone), DeviceViews(pack.preprocessing)
    optimizer, scheduler = schedule.optimiser(model, math.ceil(len(pack.targets["train"]) / schedule.batch_size))
    loss_fn = recipe.loss.build(torch.from_numpy(pack.targets["train"].mean(axis=0))).to(device)
    best, best_epoch, best_state, history, stop = -math.inf, 0, None, [], "epochs"
    for epoch in range(1, schedule.epochs + 1):
        row = train_epoch(model, pack, views, schedule, (optimizer, scheduler, loss_fn, generator), deadline)
        started = time.perf_counter()
        metrics = validation_metrics(pack.targets["val"], scores_of(model, pack, "val"))
        history.append({"epoch": epoch, **row, "val_seconds": time.perf_counter() - started, **metrics})
        rate, f1 = row["images"] / row["seconds"], metrics["macro_f1_tuned"]
        print(
            f"seed {seed} epoch {epoch}: loss {row['loss']:.4f}, {rate:.1f} images/s, val macro-F1 {f1:.4f}",
            file=sys.stderr,
        )
        if metrics["macro_f1_tuned"] > best:
            best, best_epoch = metrics["macro_f1_tuned"], epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= schedule.patience:
            stop = "patience"
        stop = "time" if time.perf_counter() > deadline else stop
        if stop != "epochs":
            break
    moved = weights_moved(before, model.backbone)  # by the last epoch (the kept weights may be an earlier epoch's)
    model.load_state_dict(best_state)
    metrics, predicted = arm_scores(pack, {s: scores_of(model, pack, s) for s in ("val", "test")})
    row = {"seed": seed, **metrics, "stopped_by": stop, **epoch_costs(history, best_epoch), "backbone_change": moved}
    return {**row, "notes": sorted(views.notes)}, predicted


def epoch_costs(history: list[dict], best_epoch: int) -> dict:
    """Epochs run, the one kept, median seconds per epoch (training and validation), training images/s."""
    return {
        "best_epoch": best_epoch,
        "epochs": len(history),
        "seconds_per_epoch": round(statistics.median(r["seconds"] + r["val_seconds"] for r in history), 2),
        "train_images_per_second": round(statistics.median(r["images"] / r["seconds"] for r in history), 1),
        "val_macro_f1_per_epoch": [round(r["macro_f1_tuned"], 4) for r in history],
    }


# ---------------------------------------------------------------- the run's report


def summary(pack: Pack, arms: dict[str, list[dict]], predicted: dict[str, dict[int, np.ndarray]]) -> dict:
    """Per arm, the mean and sd over seeds of the test headline metrics and the mean per-genre F1; per fine-tuned
    arm, the paired bootstrap of its test macro-F1 minus the frozen arm's, over the seeds both finished."""
    from mmgenre.evaluation.significance import paired_bootstrap

    out: dict = {}
    for arm, rows in ((arm, rows) for arm, rows in arms.items() if rows):
        out[arm] = {key: mean_sd([row["test"][key] for row in rows]) for key in HEADLINE}
        per_genre = {g: statistics.mean(row["test"]["per_genre_f1"][g] for row in rows) for g in pack.labels}
        out[arm]["per_genre_f1_mean"] = {genre: round(f1, 4) for genre, f1 in per_genre.items()}
        seeds = sorted(set(predicted["frozen"]) & set(predicted[arm]))
        if arm != "frozen" and seeds:
            sides = [[predicted[side][seed] for seed in seeds] for side in (arm, "frozen")]
            comparison = paired_bootstrap(pack.targets["test"], *sides)
            out[arm]["test_macro_f1_minus_frozen"] = {"seeds": seeds, **comparison.to_dict()}
    return out


def mean_sd(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 4), "sd": round(statistics.stdev(values), 4) if values[1:] else None}


def limits(pack: Pack, args: argparse.Namespace, arms: dict[str, list[dict]]) -> list[str]:
    """What this run could not do, or did otherwise than issue 23 asks, in words."""
    said = [
        f"trained on {len(pack.targets['train'])} of the {pack.info['train_split_posters']} train-split posters "
        "(what fits the 64 MiB that travel; validation and test are whole); the frozen arm on all of them is "
        "offline-best itself",
        "OCR dropout replaces a poster's whole text by the empty text's vector; dropping or shuffling single lines "
        "needs MiniLM to embed the new texts, and its weights do not travel (train.text_views does it on the CPU)",
    ]
    if args.posters:
        said.append(f"--posters {args.posters}: at most {args.posters} posters per split (a test run)")
    if args.device != "cuda":
        said.append(f"ran on {args.device}: its seconds, images/s and memory are not a GPU's")
    for arm, rows in ((arm, rows) for arm, rows in arms.items() if arm != "frozen"):
        missing = sorted(set(args.seeds) - {row["seed"] for row in rows})
        said += [f"{arm} did not run for seeds {missing}: --budget-s {args.budget_s:g} was spent"] if missing else []
        stopped = [row for row in rows if row["stopped_by"] == "time"]
        said += [f"{arm} seed {row['seed']}: stopped by --budget-s after {row['epochs']} epochs" for row in stopped]
    return said + sorted({note for arm, rows in arms.items() for row in rows for note in row.get("notes", [])})


def train_command(args: argparse.Namespace) -> Path:
    """Every arm for every seed, the JSON rewritten after each (a run cut short keeps what it did); its path."""
    from mmgenre.recipe import load_recipe

    started = time.perf_counter()
    torch.backends.cudnn.benchmark = args.device == "cuda"
    info = json.loads((args.pack / "pack.json").read_text())
    recipe = load_recipe(str(ROOT / info["recipe"]))
    pack = load_pack(args.pack, args.device, args.posters, recipe.image_encoder.info().preprocessing)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"finetune-gpu-{datetime.now():%Y%m%d-%H%M%S}.json"
    schedule = Schedule(
        **{name: getattr(args, name) for name in Schedule.__dataclass_fields__ if name != "ocr_dropout"}
    )
    variants = {f"finetuned_ocr_dropout_{p:g}": replace(schedule, ocr_dropout=p) for p in args.ocr_dropout}
    report: dict = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": shlex.join(["benchmarks/gpu_finetune.py", *args.argv]),
        "machine": machine(),
        "pack": {**info, "loaded": {s: len(pack.targets[s]) for s in SPLITS}},
        "frozen_arm": f"{BASELINE}: its head, loss and training (mmgenre.training.loop.fit) on frozen pooled features",
        "finetuned_arms": {"schedule": asdict(schedule), "views": DeviceViews(pack.preprocessing).settings()},
        "precision": "fine-tuned arms: bf16 autocast in training steps on CUDA; all scores in float32",
        "seconds_loading": round(time.perf_counter() - started, 1),
        "arms": {"frozen": [], **{name: [] for name in variants}},
    }
    predicted: dict[str, dict[int, np.ndarray]] = {arm: {} for arm in report["arms"]}
    run_arms(recipe, pack, args, variants, report, predicted, path)
    report["summary"] = summary(pack, report["arms"], predicted)
    report["could_not"] = limits(pack, args, report["arms"])
    report["seconds_total"] = round(time.perf_counter() - started, 1)
    atomic_write(path, json.dumps(report, indent=2))
    print_report(report, path)
    return path


def run_arms(recipe, pack: Pack, args, variants: dict[str, Schedule], report: dict, predicted: dict, path) -> None:
    """Frozen features once and the frozen arm per seed (quick), then each fine-tuned arm per seed, sharing
    --budget-s: each run gets what is left over the runs left."""
    cuda = args.device == "cuda"
    features, seconds, moved = frozen_features(recipe, pack)
    report["frozen_features"] = {"seconds": round(seconds, 2), "backbone_change": moved}
    for seed in args.seeds:
        row, predicted["frozen"][seed] = frozen_arm(recipe, pack, features, seed)
        report["arms"]["frozen"].append({**row, "backbone_change": moved})
        atomic_write(path, json.dumps(report, indent=2))
    deadline = time.perf_counter() + args.budget_s
    runs = [(seed, arm) for seed in args.seeds for arm in variants]
    for index, (seed, arm) in enumerate(runs):
        left = deadline - time.perf_counter()
        if left < 5:
            break
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        share = time.perf_counter() + left / (len(runs) - index)
        row, predicted[arm][seed] = finetune_arm(recipe, pack, seed, variants[arm], share)
        row["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
        report["arms"][arm].append(row)
        atomic_write(path, json.dumps(report, indent=2))


def print_report(report: dict, path: Path) -> None:
    for arm, rows in report["arms"].items():
        for row in rows:
            test, val = row["test"], row["val"]
            print(
                f"{arm} seed {row['seed']}: test macro-F1 {test['macro_f1']:.4f} micro-F1 {test['micro_f1']:.4f} "
                f"mAP {test['map']:.4f}; val macro-F1 {val['macro_f1']:.4f}; epoch {row['best_epoch']}/{row['epochs']}"
            )
    for arm, numbers in report["summary"].items():
        if comparison := numbers.get("test_macro_f1_minus_frozen"):
            low, high, difference = comparison["ci_low"], comparison["ci_high"], comparison["difference"]
            print(f"{arm} minus frozen, test macro-F1: {difference:+.4f} [{low:+.4f}, {high:+.4f}]")
    print("could not do, or did otherwise:\n" + "\n".join(f"- {line}" for line in report["could_not"]))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="write the pack that travels (here, with the feature cache)")
    pack.add_argument("--data", type=Path, default=DEFAULT_POSTERS)
    pack.add_argument("--out", type=Path, required=True, help="the pack goes to OUT/pack (which must not exist)")
    pack.add_argument("--max-bytes", type=int, required=True, help="what the pack may take: posters, text, weights")
    pack.add_argument("--quality", type=int, default=90, help="WebP quality of the validation and test posters")
    pack.add_argument("--train-quality", type=int, default=85, help="WebP quality of the training posters")
    pack.add_argument("--seed", type=int, default=0, help="the order training posters are taken in")
    train = commands.add_parser("train", help="train and score the arms (on the GPU machine)")
    train.add_argument("--pack", type=Path, required=True)
    train.add_argument("--device", default="cuda")
    train.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[0, 1, 2])
    train.add_argument("--budget-s", type=float, default=300, help="seconds for all the fine-tuned arms' training")
    train.add_argument("--posters", type=int, help="at most this many posters per split (a test on the CPU)")
    train.add_argument("--out-dir", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else RESULTS)
    train.add_argument("--ocr-dropout", type=lambda text: [float(p) for p in text.split(",")], default=[0.3, 0.0],
                       help="one fine-tuned arm per value: the chance a training poster's text is dropped")  # fmt: skip
    for name, default in asdict(Schedule()).items():
        if name != "ocr_dropout":
            train.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.command == "pack":
        from gpu_finetune_pack import pack_command

        pack_command(args)
        return None
    return train_command(args)


if __name__ == "__main__":
    main()
