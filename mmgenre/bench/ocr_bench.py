"""`bench ocr`: the same posters through each OCR engine; speed, title recall, CER, empty reads."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml

from mmgenre.bench.ocr_quality import best_span_cer, title_word_recall
from mmgenre.components import OcrEngine
from mmgenre.data.dataset import load_dataset
from mmgenre.data.skips import SkipLog
from mmgenre.errors import RecipeError
from mmgenre.features.cache import FeatureCache
from mmgenre.features.ocr_stage import default_workers, run_ocr
from mmgenre.features.sources import ImageOptions, hash_sources
from mmgenre.registry import get_registry

log = logging.getLogger("mmgenre")
ENGINE_SPEC = re.compile(r"^([\w-]+)((?::[\w]+=[^:]+)*)$")


def parse_engine(spec: str) -> tuple[str, dict]:
    """`tesseract:psm=3:min_confidence=50` -> ('tesseract', {'psm': 3, 'min_confidence': 50})."""
    match = ENGINE_SPEC.match(spec.strip())
    if not match:
        raise RecipeError(f"bad engine '{spec}': expected NAME or NAME:param=value:param=value")
    params = {}
    for pair in filter(None, match.group(2).split(":")):
        key, value = pair.split("=", 1)
        params[key] = yaml.safe_load(value)
    return match.group(1), params


def bench_ocr(
    engines: list[str],
    data_dir: str | Path,
    cache: FeatureCache,
    *,
    limit: int | None = None,
    workers: int | None = None,
    downstream: str | None = None,
    progress: bool | None = None,
) -> dict:
    """Run each engine on the same posters (reading them again to time them; results go to the cache)."""
    registry = get_registry()
    parsed = [(spec, *parse_engine(spec)) for spec in engines]
    components = {
        spec: cast(OcrEngine, registry.create("ocr", name, params, key=f"--engines {spec}"))
        for spec, name, params in parsed
    }
    dataset = load_dataset(data_dir, _labels(downstream))
    posters = dataset.posters[:limit] if limit else dataset.posters
    options = ImageOptions()
    skips = SkipLog()
    sources = hash_sources([p.path for p in posters], options, skips)
    readable = [(poster, source) for poster, source in zip(posters, sources) if source is not None]
    workers = workers or default_workers()
    results = []
    for spec, engine in components.items():
        log.info("bench ocr: %s on %d posters with %d workers", spec, len(readable), workers)
        output = run_ocr(
            engine, [s for _, s in readable], cache, options, skips, workers=workers, progress=progress, refresh=True
        )
        results.append(summarise(spec, engine, readable, output, workers))
    report: dict[str, Any] = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "data": str(data_dir),
        "posters": len(readable),
        "workers": workers,
        "engines": results,
        "skipped": skips.counts(),
    }
    if downstream:
        report["downstream"] = downstream_scores(downstream, parsed, data_dir, cache, limit)
        for row in results:
            row["downstream_macro_f1"] = report["downstream"][row["engine"]]["macro_f1"]
    return report


def _labels(downstream: str | None) -> list[str]:
    from mmgenre.recipe import load_recipe

    return load_recipe(downstream).labels if downstream else load_recipe("paper-offline").labels


def summarise(spec: str, engine, readable, output, workers: int) -> dict:
    recalls: list[float] = []
    cers: list[float] = []
    empty = 0
    for poster, source in readable:
        result = output.by_key.get(source.key)
        if result is None:
            continue
        empty += not result.text.strip()
        title = poster.meta.get("title", "")
        recall, cer = title_word_recall(title, result.text), best_span_cer(title, result.text)
        if recall is not None and cer is not None:
            recalls.append(recall)
            cers.append(cer)
    latencies = np.array(output.latencies) if output.latencies else np.zeros(1)
    read = len(output.by_key)
    return {
        "engine": spec,
        "name": engine.name,
        "params": engine.params.model_dump(mode="json"),
        "posters_read": read,
        "posters_per_second": read / output.seconds if output.seconds else None,
        "latency_median_s": float(np.median(latencies)),
        "latency_p95_s": float(np.percentile(latencies, 95)),
        "title_word_recall": float(np.mean(recalls)) if recalls else None,
        "title_cer": float(np.mean(cers)) if cers else None,
        "empty_fraction": empty / read if read else None,
        "workers": workers,
    }


def downstream_scores(recipe_ref: str, parsed, data_dir, cache: FeatureCache, limit: int | None) -> dict:
    """Test macro-F1 of the recipe's text-only model trained on each engine's text."""
    from mmgenre.recipe import load_recipe
    from mmgenre.training.train import train

    scores = {}
    for spec, name, params in parsed:
        overrides = ["fusion.name=text-only", f"ocr.name={name}"] + [f"ocr.params.{k}={v}" for k, v in params.items()]
        recipe = load_recipe(recipe_ref, overrides)
        slug = re.sub(r"[^\w-]+", "-", spec)
        run = train(
            recipe, data_dir, cache, Path("runs") / f"bench-ocr-{slug}-{datetime.now():%Y%m%d-%H%M%S}", limit=limit
        )
        test = run.metrics()["test"]
        scores[spec] = {"run": str(run.path), **{k: test[k] for k in ("macro_f1", "micro_f1", "hit_ratio", "map")}}
    return scores


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """JSON and a bar chart (title recall and throughput per engine) in `out`."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    stem = f"ocr-{datetime.now():%Y%m%d-%H%M%S}"
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(report, indent=2))
    return json_path, plot(report, out / f"{stem}.png")


def plot(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["engines"]
    names = [r["engine"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 0.6 * len(rows) + 1.8), sharey=True)
    left.barh(names, [r["title_word_recall"] or 0 for r in rows], color="#4C72B0")
    left.set_xlabel("title-word recall")
    left.set_xlim(0, 1)
    right.barh(names, [r["posters_per_second"] or 0 for r in rows], color="#DD8452")
    right.set_xlabel(f"posters / s ({report['workers']} workers)")
    left.invert_yaxis()
    figure.suptitle(f"OCR engines on {report['posters']} posters")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
