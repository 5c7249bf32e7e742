"""Checks for packaged models: the folder is a complete run with a model card, and it loads and tags a poster."""

from __future__ import annotations

from mmgenre.testing.contract import check, expect
from mmgenre.testing.workbench import Workbench


@check(
    "model",
    contract="a model's `path()` is a complete mmgenre run folder (recipe, run.json, weights, thresholds, metrics "
    "with a test split) inside its package, with a model card",
    fix="set `package` to your importable package and `folder` to the run folder inside it; ship every file of "
    "the run (package data in pyproject.toml) and a MODEL_CARD.md (`mmgenre plugin new model NAME --from RUN` "
    "does both)",
    runs_component=False,
)
def is_a_complete_run(bench: Workbench) -> None:
    from mmgenre.errors import MmgenreError
    from mmgenre.training.run_folder import RunFolder

    path = bench.component.path()
    expect(path.is_dir(), f"path() is {path}, which is not a folder")
    run = RunFolder(path)
    try:
        labels, thresholds, metrics = run.info().labels, run.thresholds(), run.metrics()
        run.recipe_data()
    except MmgenreError as error:
        expect(False, f"its run folder cannot be read: {error}")
    expect(len(thresholds) == len(labels), f"{len(thresholds)} thresholds for {len(labels)} genres")
    expect("test" in metrics, "metrics.json has no test split: a model card needs held-out numbers")
    expect(bench.component.card().strip(), f"no MODEL_CARD.md in {path}")


@check(
    "model",
    contract="the model loads with the installed components and tags a poster: one score from 0 to 1 per genre, "
    "and the genres it names are among its labels",
    fix="train the run with components that are installed with your package's dependencies, and check "
    "`mmgenre predict YOUR-MODEL poster.jpg` works",
)
def loads_and_predicts(bench: Workbench) -> None:
    from mmgenre.predictor import Predictor
    from mmgenre.testing.samples import poster

    image = bench.scratch("poster") / "poster.jpg"
    poster().save(image, quality=92)
    with Predictor.load(bench.component.path(), device="cpu") as predictor:
        (prediction,) = predictor.predict([image])
        labels = predictor.labels
    scores = prediction.scores
    expect(sorted(scores) == sorted(labels), f"scores for {sorted(scores)}, labels {sorted(labels)}")
    expect(all(0 <= s <= 1 for s in scores.values()), f"scores outside 0..1: {scores}")
    expect(set(prediction.genres) <= set(labels), f"genres {prediction.genres} not among the labels")
