"""`ablate`: train every combination of recipe variations (and seeds) on shared cached features, compare them."""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from mmgenre.data.dataset import PosterDataset
from mmgenre.errors import RecipeError
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.evaluation.significance import format_p, paired_bootstrap
from mmgenre.features.cache import FeatureCache
from mmgenre.output_folders import claim_output_folder
from mmgenre.recipe import load_recipe, parse_override
from mmgenre.training.run_folder import RunFolder
from mmgenre.training.train import train

log = logging.getLogger("mmgenre")
MARKER = ".mmgenre-ablation"


@dataclass
class Variant:
    """One combination of --vary values, trained once per seed."""

    settings: dict[str, str]
    runs: list[RunFolder] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.settings.items()) or "recipe as is"

    @property
    def slug(self) -> str:
        """A folder name: `fusion-concat_loss-bce`; characters a file name should not hold become '-'."""
        parts = (f"{key.split('.')[0]}-{value}" for key, value in self.settings.items())
        return re.sub(r"[^\w.=+-]+", "-", "_".join(parts)).strip("-")[:120] or "base"


def parse_variations(vary: list[str]) -> list[dict[str, str]]:
    """`['fusion.name=a,b', 'loss.name=c,d']` -> every combination as {key: value}."""
    axes = []
    for text in vary:
        path, values = parse_override(text)
        options = [v.strip() for v in str(values).split(",") if v.strip()] if values is not None else []
        if not options:
            raise RecipeError(f"bad --vary '{text}': expected KEY.PATH=VALUE1,VALUE2")
        axes.append([(".".join(path), option) for option in options])
    return [dict(combination) for combination in itertools.product(*axes)] if axes else [{}]


def run_ablation(
    recipe_ref: str | None,
    dataset: PosterDataset,
    cache: FeatureCache,
    vary: list[str],
    seeds: list[int],
    overrides: list[str],
    out: str | Path | None = None,
    limit: int | None = None,
) -> tuple[Path, dict]:
    """Train each variant with each seed; returns the output folder and the comparison."""
    variants = [Variant(settings) for settings in parse_variations(vary)]
    recipes = {
        v.slug: load_recipe(recipe_ref, overrides + [f"{k}={val}" for k, val in v.settings.items()]) for v in variants
    }  # validate every variant before training any
    name = next(iter(recipes.values())).spec.name or "recipe"
    folder = Path(out or Path("runs") / f"ablate-{name}-{datetime.now():%Y%m%d-%H%M%S}")
    claim_output_folder(folder, MARKER)
    for variant in variants:
        for seed in seeds:
            log.info("ablation: %s, seed %d", variant.name, seed)
            recipe = load_recipe(
                recipe_ref, overrides + [f"{k}={v}" for k, v in variant.settings.items()] + [f"train.seed={seed}"]
            )
            variant.runs.append(trained_run(recipe, dataset, cache, folder / f"{variant.slug}-seed{seed}", limit))
    comparison = compare(variants, seeds)
    (folder / "ablation.json").write_text(json.dumps(comparison, indent=2))
    (folder / "ablation.md").write_text(markdown_table(comparison))
    return folder, comparison


def trained_run(recipe, dataset: PosterDataset, cache: FeatureCache, path: Path, limit: int | None) -> RunFolder:
    """Train, or reuse a complete run of the identical recipe in `path` (an interrupted ablation resumes)."""
    run = RunFolder(path)
    done = all((path / name).is_file() for name in ("model.safetensors", "recipe.yaml", "run.json"))
    if done and (path / "recipe.yaml").read_text() == recipe.to_yaml():
        info = run.info()
        if (info.data, info.limit) == (dataset.reference, limit):
            log.info("ablation: reusing the finished run %s", path)
            return run
    return train(recipe, dataset, cache, path, limit=limit, overwrite=True)


def compare(variants: list[Variant], seeds: list[int]) -> dict:
    """Mean and standard deviation over seeds of each test metric; each variant against the first (paired)."""
    rows: list[dict[str, Any]] = []
    for variant in variants:
        tests = [run.metrics()["test"] for run in variant.runs]
        row: dict[str, Any] = {
            "variant": variant.name,
            "settings": variant.settings,
            "runs": [str(r.path) for r in variant.runs],
        }
        for metric in HEADLINE:
            values = [t[metric] for t in tests]
            row[metric] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                "values": values,
            }
        rows.append(row)
    best = max(range(len(rows)), key=lambda i: rows[i]["macro_f1"]["mean"])
    for row, variant in zip(rows[1:], variants[1:]):
        row["vs_first"] = versus(variant, variants[0]).to_dict()
    return {
        "seeds": seeds,
        "split": "test",
        "first": rows[0]["variant"],
        "best": rows[best]["variant"],
        "variants": rows,
    }


def predictions(run: RunFolder) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Test ids, true genres and the 0/1 predictions at the run's tuned thresholds."""
    saved = run.scores("test")
    return saved.ids, saved.targets, saved.scores >= np.array(run.thresholds())


def versus(variant: Variant, reference: Variant):
    """Paired bootstrap of macro-F1 (variant minus reference) over the test posters both were scored on."""
    ids, targets, _ = predictions(reference.runs[0])

    def aligned(run: RunFolder) -> np.ndarray:
        run_ids, _, predicted = predictions(run)
        if run_ids != ids:
            raise RecipeError(f"{run.path} was tested on other posters than {reference.runs[0].path}: can't pair them")
        return predicted

    return paired_bootstrap(targets, [aligned(r) for r in variant.runs], [aligned(r) for r in reference.runs])


def markdown_table(comparison: dict) -> str:
    seeds = comparison["seeds"]
    spread = len(seeds) > 1
    header = "| variant | " + " | ".join(HEADLINE) + " | macro-F1 vs first row (95% CI), p |"
    lines = [
        f"Test split; mean{' ± std' if spread else ''} over seeds {', '.join(map(str, seeds))}; best macro-F1 "
        f"in bold. Differences: paired bootstrap over the same test posters.",
        "",
        header,
        "|" + " --- |" * (len(HEADLINE) + 2),
    ]
    for row in comparison["variants"]:
        cells = [f"{row[m]['mean']:.4f}" + (f" ± {row[m]['std']:.4f}" if spread else "") for m in HEADLINE]
        if row["variant"] == comparison["best"]:
            cells[0] = f"**{cells[0]}**"
        c = row.get("vs_first")
        versus_first = (
            f"{c['difference']:+.4f} ({c['ci_low']:+.4f} to {c['ci_high']:+.4f}), {format_p(c['p_value'])}"
            if c
            else "reference"
        )
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + f" | {versus_first} |")
    return "\n".join(lines) + "\n"
