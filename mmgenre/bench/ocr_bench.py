"""`bench ocr`: the same posters through each OCR engine (and each point of a param sweep): speed, title
recall, CER, empty reads, and a chart of speed against recall."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml

from mmgenre.bench.ocr_quality import best_span_cer, title_word_recall
from mmgenre.components import OcrEngine, OcrResult
from mmgenre.data.dataset import Poster, PosterDataset
from mmgenre.data.skips import SkipLog
from mmgenre.errors import ComponentUnavailableError, RecipeError
from mmgenre.features.namespaces import Namespace
from mmgenre.features.ocr_stage import OcrPool, default_workers
from mmgenre.features.progress import Progress
from mmgenre.features.sources import ImageOptions, Source, hash_sources
from mmgenre.features.store import FeatureStore
from mmgenre.registry import Registry

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


def sweep_specs(sweep: str) -> list[str]:
    """`rapidocr:det_side=320,416,736` -> ['rapidocr:det_side=320', 'rapidocr:det_side=416', ...]."""
    head, sep, values = sweep.rpartition("=")
    if not sep or ":" not in head or not values:
        raise RecipeError(f"bad --sweep '{sweep}': expected ENGINE[:param=value...]:param=V1,V2,...")
    return [f"{head}={value.strip()}" for value in values.split(",") if value.strip()]


def bench_ocr(
    engines: list[str],
    dataset: PosterDataset,
    cache: FeatureStore,
    registry: Registry,
    *,
    limit: int | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> dict:
    """Run each engine on the same posters (reading them again to time them; results go to the cache)."""
    components = {
        spec: cast(OcrEngine, registry.create("ocr", name, params, key=f"--engines {spec}"))
        for spec, (name, params) in ((spec, parse_engine(spec)) for spec in engines)
    }
    posters = dataset.posters[:limit] if limit else dataset.posters
    options, skips = ImageOptions(), SkipLog()
    sources = hash_sources([p.path for p in posters], options, skips)
    readable = [(poster, source) for poster, source in zip(posters, sources) if source is not None]
    workers = workers or default_workers()
    results = []
    for spec, engine in components.items():
        log.info("bench ocr: %s on %d posters with %d workers", spec, len(readable), workers)
        texts, latencies, seconds = read_all(engine, [s for _, s in readable], cache, options, skips, workers, progress)
        results.append(summarise(spec, engine, readable, texts, latencies, seconds, workers))
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "data": dataset.reference or dataset.location,
        "posters": len(readable),
        "workers": workers,
        "engines": results,
        "skipped": skips.counts(),
    }


def read_all(
    engine: OcrEngine, sources: list[Source], cache: FeatureStore, options, skips, workers: int, progress
) -> tuple[dict[str, OcrResult], list[float], float]:
    """Read every poster (worker start-up included in the time); results are cached for downstream use."""
    texts: dict[str, OcrResult] = {}
    latencies: list[float] = []
    namespace = cache.register(Namespace.of(engine, "ocr"))
    started = time.perf_counter()
    pool = OcrPool(engine, options, workers)
    try:
        with Progress(len(sources), f"OCR ({engine.name})", progress) as bar:
            for source, outcome in pool.read(sources):
                bar.update(1)
                if outcome.status == "fatal":
                    raise ComponentUnavailableError(f"OCR engine '{engine.name}' cannot run: {outcome.detail}")
                if outcome.status == "ok":
                    texts[source.key] = OcrResult.from_json(outcome.result)
                    latencies.append(outcome.seconds)
                else:
                    skips.skip(str(source), outcome.category, outcome.detail)
    finally:
        pool.close()
    seconds = time.perf_counter() - started
    cache.put_many(namespace, [(key, result.to_json(), b"") for key, result in texts.items()])
    return texts, latencies, seconds


def summarise(
    spec: str, engine: OcrEngine, readable: list[tuple[Poster, Source]], texts: dict, latencies: list, seconds: float,
    workers: int,
) -> dict:  # fmt: skip
    recalls: list[float] = []
    cers: list[float] = []
    empty = 0
    for poster, source in readable:
        result = texts.get(source.key)
        if result is None:
            continue
        empty += not result.text.strip()
        title = poster.meta.get("title", "")
        recall, cer = title_word_recall(title, result.text), best_span_cer(title, result.text)
        if recall is not None and cer is not None:
            recalls.append(recall)
            cers.append(cer)
    latency = np.array(latencies) if latencies else np.zeros(1)
    read = len(texts)
    return {
        "engine": spec,
        "name": engine.name,
        "params": engine.params.model_dump(mode="json"),
        "default": ":" not in spec,
        "posters_read": read,
        "seconds": seconds,
        "posters_per_second": read / seconds if seconds else None,
        "latency_median_s": float(np.median(latency)),
        "latency_p95_s": float(np.percentile(latency, 95)),
        "title_word_recall": float(np.mean(recalls)) if recalls else None,
        "title_cer": float(np.mean(cers)) if cers else None,
        "empty_fraction": empty / read if read else None,
        "workers": workers,
    }


def downstream_scores(
    recipe_ref: str, report: dict, dataset: PosterDataset, cache: FeatureStore, registry, limit: int | None = None
) -> dict:
    """Test macro-F1 of the recipe's text-only model trained on each engine's text."""
    from mmgenre.recipe import load_recipe
    from mmgenre.training.train import train

    scores = {}
    for row in report["engines"]:
        name, params = parse_engine(row["engine"])
        overrides = ["fusion.name=text-only", f"ocr.name={name}"] + [f"ocr.params.{k}={v}" for k, v in params.items()]
        recipe = load_recipe(recipe_ref, overrides, registry)
        slug = re.sub(r"[^\w-]+", "-", row["engine"])
        out = Path("runs") / f"bench-ocr-{slug}-{datetime.now():%Y%m%d-%H%M%S}"
        run = train(recipe, replace(dataset, skips=SkipLog()), cache, out, limit=limit)
        test = run.metrics()["test"]
        scores[row["engine"]] = {
            "run": str(run.path),
            **{k: test[k] for k in ("macro_f1", "micro_f1", "hit_ratio", "map")},
        }
        row["downstream_macro_f1"] = test["macro_f1"]
    return scores


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """JSON and a speed/recall chart in `out`, under new names (nothing there is overwritten)."""
    import json

    from mmgenre.files.errors import writing
    from mmgenre.files.writer import new_file

    with writing(out, "--out"):
        out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    stem = new_file(out, f"ocr-{datetime.now():%Y%m%d-%H%M%S}", (".json", ".png"), {".json": text})
    return out / f"{stem}.json", plot(report, out / f"{stem}.png")


def plot(report: dict, path: Path) -> Path:
    """Posters/s (x) against title-word recall (y), one point per engine setting; defaults drawn as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["engines"]
    figure, axes = plt.subplots(figsize=(8, 5.5))
    names = sorted({row["name"] for row in rows})
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for name in names:
        points = sorted((r for r in rows if r["name"] == name), key=lambda r: r["posters_per_second"] or 0)
        xs = [r["posters_per_second"] or 0 for r in points]
        ys = [r["title_word_recall"] or 0 for r in points]
        axes.plot(xs, ys, "o-" if len(points) > 1 else "o", color=colours[name], label=name, alpha=0.8)
        for row, x, y in zip(points, xs, ys):
            label = row["engine"].split(":", 1)[1].replace(":", ", ") if ":" in row["engine"] else "default"
            axes.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
            if row["default"]:
                axes.plot([x], [y], "*", color=colours[name], markersize=18, markeredgecolor="black")
    axes.set_xlabel(f"posters / s ({report['workers']} workers)")
    axes.set_ylabel("title-word recall")
    axes.set_title(f"OCR speed against title recall on {report['posters']} posters (star: default settings)")
    axes.grid(alpha=0.3)
    axes.legend()
    from mmgenre.files.writer import atomic_path

    figure.tight_layout()
    with atomic_path(path, replace=False) as temporary:  # a new name: never a file that is there
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
    return path
