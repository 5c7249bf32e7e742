"""Metrics per slice of the posters: era, poster size, language, number of genres."""

from __future__ import annotations

from collections import Counter

import numpy as np

from mmgenre.data.dataset import Poster

MIN_GROUP = 20  # smaller language groups are pooled into "other"
WIDTH_BINS = ((0, 200, "<200 px"), (200, 300, "200-299 px"), (300, 10**9, ">=300 px"))


def decade(poster: Poster) -> str:
    year = (poster.meta.get("year") or "").strip()[:4]
    return f"{int(year) // 10 * 10}s" if year.isdigit() else "unknown"


def resolution(poster: Poster) -> str:
    from PIL import Image

    try:
        with Image.open(poster.path) as image:
            width = image.width
    except OSError:
        return "unreadable"
    return next(name for low, high, name in WIDTH_BINS if low <= width < high)


def language(poster: Poster) -> str:
    first = (poster.meta.get("language") or "").split(",")[0].strip()
    return first or "unknown"


def genre_count(poster: Poster) -> str:
    n = len(poster.genres)
    return f"{n} genre{'s' if n > 1 else ''}" if n < 3 else "3+ genres"


SLICERS = {"decade": decade, "resolution": resolution, "language": language, "n_genres": genre_count}


def slice_order(by: str, groups: list[str]):
    """Languages by size, widths from small to large, everything else alphabetically."""
    if by == "language":
        return lambda g: (-groups.count(g), g)
    if by == "resolution":
        order = {name: i for i, (_, _, name) in enumerate(WIDTH_BINS)}
        return lambda g: (order.get(g, len(order)), g)
    return lambda g: g


def slice_metrics(evaluation, by: str) -> list[dict]:
    """Headline metrics (tuned thresholds) for each group of posters, largest groups first."""
    from mmgenre.evaluation.metrics import score_metrics

    groups = [SLICERS[by](poster) for poster in evaluation.posters]
    if by == "language":
        sizes = Counter(groups)
        groups = [g if sizes[g] >= MIN_GROUP else "other" for g in groups]
    labels = evaluation.trained.info.labels
    results = []
    for name in sorted(set(groups), key=slice_order(by, groups)):
        rows = np.array([g == name for g in groups])
        metrics = score_metrics(
            evaluation.targets[rows], evaluation.scores[rows], evaluation.trained.thresholds, labels
        )
        metrics.pop("per_genre")
        results.append({"slice": name, "posters": int(rows.sum()), **metrics})
    return results
