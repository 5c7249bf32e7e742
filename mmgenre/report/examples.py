"""A grid of example test posters with their OCR text, true genres and predicted genres."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from mmgenre.data.images import BadImage, load_image
from mmgenre.data.skips import SkipLog, log
from mmgenre.data.sources import open_dataset
from mmgenre.errors import MmgenreError
from mmgenre.features.namespaces import feature_spaces
from mmgenre.features.plan import read_texts
from mmgenre.features.sources import ImageOptions, hash_sources
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import resolve_recipe
from mmgenre.registry import Registry
from mmgenre.report.figures import _save, plt
from mmgenre.report.runs import ReportRun

PER_KIND = 4  # right, partly right, wrong


def pick_examples(run: ReportRun) -> list[tuple[int, str]]:
    """Test rows to show: the most confident right ones, partly right ones, and wrong ones."""
    targets, predicted = run.test.targets.astype(bool), run.test_predictions()
    overlap = (targets & predicted).sum(1)
    union = (targets | predicted).sum(1)
    jaccard = np.divide(overlap, union, out=np.zeros(len(union)), where=union > 0)
    confidence = run.test.scores.max(1)
    chosen = []
    for kind, rows in (
        ("right", np.flatnonzero(jaccard == 1)),
        ("partly right", np.flatnonzero((jaccard > 0) & (jaccard < 1))),
        ("wrong", np.flatnonzero(overlap == 0)),
    ):
        ranked = rows[np.argsort(-confidence[rows], kind="stable")][:PER_KIND]
        chosen += [(int(row), kind) for row in ranked]
    return chosen


def ocr_texts(run: ReportRun, paths: dict[str, Path], cache: FeatureStore | None, registry: Registry) -> dict[str, str]:
    """The OCR text the run's recipe read on each poster, from the cache (empty when not cached)."""
    recipe = resolve_recipe(run.recipe, str(run.folder.path / "recipe.yaml"), registry=registry)
    ocr = feature_spaces(recipe).ocr
    if ocr is None or cache is None:
        return {}
    ids = list(paths)
    sources = hash_sources([paths[i] for i in ids], ImageOptions(), SkipLog())
    keys = {pid: source.key for pid, source in zip(ids, sources) if source is not None}
    texts = read_texts(cache, ocr.name, list(keys.values()))
    return {pid: texts[key] for pid, key in keys.items() if key in texts}


def example_grid(run: ReportRun, path: Path, cache: FeatureStore | None) -> Path | None:
    examples = pick_examples(run)
    if not examples:
        return None
    registry = Registry.from_entry_points()
    try:
        dataset = open_dataset(run.info.data, run.labels, registry)
    except MmgenreError as error:  # the posters moved or are gone: the report goes on without pictures
        log.warning("no example grid for %s: %s", run.name, error)
        return None
    by_id = {p.id: p for p in dataset.posters}
    ids = [run.test.ids[row] for row, _ in examples]
    paths = {pid: by_id[pid].path for pid in ids if pid in by_id}
    texts = ocr_texts(run, paths, cache, registry)
    columns = PER_KIND
    rows = int(np.ceil(len(examples) / columns))
    figure, grid = plt.subplots(rows, columns, figsize=(3.4 * columns, 5.4 * rows), squeeze=False)
    for index, (row, kind) in enumerate(examples):
        axes = grid[index // columns][index % columns]
        axes.axis("off")
        poster_id = run.test.ids[row]
        if poster_id not in paths:
            continue
        try:
            axes.imshow(load_image(paths[poster_id]))
        except BadImage:
            continue
        true = [g for g, t in zip(run.labels, run.test.targets[row]) if t]
        predicted = [g for g, p in zip(run.labels, run.test_predictions()[row]) if p]
        ocr = " ".join(texts.get(poster_id, "").split())[:70] or "(no text read)"
        ocr = "".join(ch if ord(ch) < 0x2E80 else "?" for ch in ocr)  # the default font has no CJK glyphs
        caption = f"{kind}\ntrue: {', '.join(true)}\npredicted: {', '.join(predicted) or '-'}\n" + "\n".join(
            textwrap.wrap(f"OCR: {ocr}", 34)[:2]
        )
        axes.set_title(
            caption, fontsize=7.5, loc="left", color={"right": "darkgreen", "wrong": "darkred"}.get(kind, "black")
        )
    for index in range(len(examples), rows * columns):
        grid[index // columns][index % columns].axis("off")
    return _save(figure, path)
