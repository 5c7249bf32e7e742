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

from mmgenre.ablation_tables import markdown_table, per_genre_table
from mmgenre.data.dataset import PosterDataset
from mmgenre.errors import RecipeError, RunError
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.evaluation.significance import paired_bootstrap, per_genre_bootstrap
from mmgenre.features.store import FeatureStore
from mmgenre.files.writer import OutputFolder
from mmgenre.recipe import load_recipe, parse_override, resolve_recipe
from mmgenre.training.run_folder import RunFolder
from mmgenre.training.train import train

log = logging.getLogger("mmgenre")
FILES = ("ablation.json", "ablation.md")


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
        """A folder name: `fusion-concat_loss-bce`, `fusion-late_dropout-0.5` (a component's name by its section,
        any other key by its last part); characters a file name should not hold become '-'."""
        parts = (f"{short_key(key)}-{value}" for key, value in self.settings.items())
        return re.sub(r"[^\w.=+-]+", "-", "_".join(parts)).strip("-")[:120] or "base"


def folder_names(variants: list[Variant]) -> list[str]:
    """Each variant's slug, numbered where two would share one (`views-182` and `views-182-2`): variants whose
    values differ only in characters a folder name can't hold must not train into the same folders."""
    names: list[str] = []
    for variant in variants:
        name, number = variant.slug, 1
        while name in names:
            number += 1
            name = f"{variant.slug}-{number}"
        names.append(name)
    return names


def short_key(key: str) -> str:
    """`fusion.name` -> `fusion`, `loss.params.pos_weight` -> `pos_weight`, `data.train_where` -> `train_where`."""
    section, *rest = key.split(".")
    return section if rest == ["name"] else key.split(".")[-1]


def parse_variants(variants: list[str]) -> list[dict[str, str]]:
    """`['fusion.name=late;loss.name=bce', 'data.train_max=900']` -> one variant each, as {key: value}."""
    parsed = []
    for text in variants:
        settings = {}
        for part in filter(str.strip, text.split(";")):
            path, _ = parse_override(part)
            settings[".".join(path)] = part.partition("=")[2].strip()
        if not settings:
            raise RecipeError(f"bad --variant '{text}': expected KEY.PATH=VALUE[;KEY.PATH=VALUE...]")
        parsed.append(settings)
    return parsed


def parse_variations(vary: list[str], variants: list[str] | None = None) -> list[dict[str, str]]:
    """`['fusion.name=a,b', 'loss.name=c,d']` -> every combination as {key: value}; each `--variant` (a set of
    settings) is crossed with them."""
    axes = []
    for text in vary:
        path, values = parse_override(text)
        options = [v.strip() for v in str(values).split(",") if v.strip()] if values is not None else []
        if not options:
            raise RecipeError(f"bad --vary '{text}': expected KEY.PATH=VALUE1,VALUE2")
        axes.append([(".".join(path), option) for option in options])
    combinations = [dict(combination) for combination in itertools.product(*axes)] if axes else [{}]
    sets = parse_variants(variants or []) or [{}]
    return [{**one, **other} for one in sets for other in combinations]


def run_ablation(
    recipe_ref: str | None,
    dataset: PosterDataset,
    cache: FeatureStore,
    vary: list[str],
    seeds: list[int],
    overrides: list[str],
    out: str | Path | None = None,
    limit: int | None = None,
    variant_sets: list[str] | None = None,
) -> tuple[Path, dict]:
    """Train each variant with each seed; returns the output folder and the comparison."""
    variants = [Variant(settings) for settings in parse_variations(vary, variant_sets)]
    recipes = [
        load_recipe(recipe_ref, overrides + [f"{k}={val}" for k, val in v.settings.items()]) for v in variants
    ]  # validate every variant before training any
    name = recipes[0].spec.name or "recipe"
    folder = Path(out or Path("runs") / f"ablate-{name}-{datetime.now():%Y%m%d-%H%M%S}")
    output = OutputFolder(folder, "ablation", legacy_files=FILES).claim()
    for name in FILES:
        output.target(name)  # new or ours: refuse before any training
    for variant, slug in zip(variants, folder_names(variants)):
        for seed in seeds:
            log.info("ablation: %s, seed %d", variant.name, seed)
            recipe = load_recipe(
                recipe_ref, overrides + [f"{k}={v}" for k, v in variant.settings.items()] + [f"train.seed={seed}"]
            )
            variant.runs.append(trained_run(recipe, dataset, cache, folder / f"{slug}-seed{seed}", limit))
    comparison = compare(variants, seeds)
    output.write("ablation.json", json.dumps(comparison, indent=2))
    output.write("ablation.md", markdown_table(comparison) + "\n" + per_genre_table(comparison))
    return folder, comparison


def trained_run(recipe, dataset: PosterDataset, cache: FeatureStore, path: Path, limit: int | None) -> RunFolder:
    """Train, or reuse a complete run of the identical recipe in `path` (an interrupted ablation resumes)."""
    run = RunFolder(path)
    if reusable(run, recipe, dataset, limit):
        log.info("ablation: reusing the finished run %s", path)
        return run
    return train(recipe, dataset, cache, path, limit=limit, overwrite=True)


def reusable(run: RunFolder, recipe, dataset: PosterDataset, limit: int | None) -> bool:
    """Whether `run` is a finished run of this recipe on this data. A damaged one is an error naming the file
    (it is not silently trained over, and fails now rather than after the other variants have trained)."""
    if not all((run.path / name).is_file() for name in ("model.safetensors", "recipe.yaml", "run.json")):
        return False
    try:
        saved = resolve_recipe(run.recipe_data(), str(run.path / "recipe.yaml"))
        if saved.to_yaml() != recipe.to_yaml():  # params added since it was trained count at their defaults
            return False  # another recipe (say, another --set): trained again
        info = run.info()
        run.thresholds(), run.metrics()  # what the comparison reads
    except (RunError, RecipeError) as error:
        raise RunError(f"{error} (delete {run.path} to train this variant again)") from None
    return (info.data, info.limit) == (dataset.reference, limit)


def compare(variants: list[Variant], seeds: list[int]) -> dict:
    """Mean and standard deviation over seeds of each test metric (and validation macro-F1, which picks the best
    variant: never the test split); each variant against the first, overall and per genre (paired)."""
    rows: list[dict[str, Any]] = []
    for variant in variants:
        metrics = [run.metrics() for run in variant.runs]
        if any("test" not in m for m in metrics):
            raise RecipeError(f"variant {variant.name} has no test posters to compare (check data.test_where)")
        tests = [m["test"] for m in metrics]
        row: dict[str, Any] = {
            "variant": variant.name,
            "settings": variant.settings,
            "runs": [str(r.path) for r in variant.runs],
        }
        for metric in HEADLINE:
            row[metric] = spread([t[metric] for t in tests])
        row["val_macro_f1"] = spread([m["val"]["macro_f1"] for m in metrics])
        rows.append(row)
    best = max(range(len(rows)), key=lambda i: rows[i]["val_macro_f1"]["mean"])
    for row, variant in zip(rows[1:], variants[1:]):
        row["vs_first"] = versus(variant, variants[0]).to_dict()
        row["per_genre_vs_first"] = versus(variant, variants[0], per_genre=True)
    return {
        "seeds": seeds,
        "split": "test",
        "first": rows[0]["variant"],
        "best": rows[best]["variant"],
        "variants": rows,
    }


def spread(values: list[float]) -> dict:
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "values": values,
    }


def predictions(run: RunFolder) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Test ids, true genres and the 0/1 predictions at the run's tuned thresholds."""
    saved = run.scores("test")
    return saved.ids, saved.targets, saved.scores >= np.array(run.thresholds())


def versus(variant: Variant, reference: Variant, per_genre: bool = False):
    """Paired bootstrap of macro-F1 (or of each genre's F1, Holm-corrected) of variant minus reference, over the
    test posters both were scored on."""
    ids, targets, _ = predictions(reference.runs[0])

    def aligned(run: RunFolder) -> np.ndarray:
        run_ids, _, predicted = predictions(run)
        if run_ids != ids:
            raise RecipeError(f"{run.path} was tested on other posters than {reference.runs[0].path}: can't pair them")
        return predicted

    ours, theirs = [aligned(r) for r in variant.runs], [aligned(r) for r in reference.runs]
    if per_genre:
        return per_genre_bootstrap(targets, ours, theirs, reference.runs[0].info().labels)
    return paired_bootstrap(targets, ours, theirs)
