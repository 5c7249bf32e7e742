"""The feature pipeline: plan what is missing, execute it (on this machine or a cluster), assemble the result.

poster files -> OCR text -> image and text embeddings, all through a store (the feature cache), so a repeated
or resumed run computes only what is missing.
"""

from __future__ import annotations

from typing import Protocol

from mmgenre.data.augment import PosterView
from mmgenre.data.skips import SkipLog
from mmgenre.features.assemble import assemble
from mmgenre.features.devices import resolve_device
from mmgenre.features.featureset import FeatureSet
from mmgenre.features.plan import FeaturePlan, Settings, plan_features, plan_texts
from mmgenre.features.sources import ImageOptions
from mmgenre.features.store import FeatureStore
from mmgenre.recipe import ResolvedRecipe


class Executor(Protocol):
    def execute(
        self, plan: FeaturePlan, store: FeatureStore, skips: SkipLog, progress: bool | None = None
    ) -> dict[str, int]: ...


def image_options(recipe: ResolvedRecipe, resize_to: int | None = None, view: PosterView | None = None) -> ImageOptions:
    data = recipe.spec.data
    return ImageOptions(min_side=data.min_side, max_pixels=data.max_pixels, resize_to=resize_to, view=view)


def recipe_settings(recipe: ResolvedRecipe) -> Settings:
    spec = recipe.spec.features
    return Settings.of(spec, resolve_device(spec.device))


def extract_features(
    recipe: ResolvedRecipe,
    items: list,
    store: FeatureStore,
    *,
    resize_to: int | None = None,
    view: PosterView | None = None,
    skips: SkipLog | None = None,
    progress: bool | None = None,
    executor: Executor | None = None,
    settings: Settings | None = None,
) -> FeatureSet:
    """Features of the posters (`items`: paths, or (name, bytes) uploads) that the recipe's head needs.

    Posters that can't be read or processed are left out (and logged in `skips`). `resize_to` and `view` change
    the pixels every stage sees, under keys of their own. Without an executor, a local one is made for this call
    and closed after it.
    """
    from mmgenre.features.local_executor import LocalExecutor

    skips = skips if skips is not None else SkipLog()
    settings = settings or recipe_settings(recipe)
    plan = plan_features(recipe, items, store, settings, image_options(recipe, resize_to, view), skips)
    own = executor is None
    runner: Executor = LocalExecutor(settings) if executor is None else executor
    try:
        computed = runner.execute(plan, store, skips, progress)
        plan.ocr_todo, plan.image_todo = [], []
        plan_texts(plan, store)  # texts read just now whose embeddings the executor did not make
        for stage, count in runner.execute(plan, store, skips, progress).items():
            computed[stage] = computed.get(stage, 0) + count
    finally:
        if own:
            runner.close()  # type: ignore[attr-defined]
    features = assemble(plan, store)
    features.computed = {stage: computed.get(stage, 0) for stage in stages_of(plan)}
    report_left_out(plan, features, skips)
    return features


def report_left_out(plan: FeaturePlan, features: FeatureSet, skips: SkipLog) -> None:
    """Every poster without features is in `skips` under its own name: posters with the same bytes share one
    key, so a stage's failure was logged for one of them; its copies get the same reason."""
    logged = {skip.where: skip for skip in skips.skips}
    by_key = {source.key: logged[str(source)] for source in plan.readable if str(source) in logged}
    kept = set(features.rows.tolist())
    for row, source in enumerate(plan.sources):
        if source is None or row in kept or str(source) in logged:
            continue
        twin = by_key.get(source.key)
        if twin is not None:
            skips.skip(str(source), twin.category, f"same content as {twin.where}")
        else:
            skips.skip(str(source), "no features", "a stage produced nothing for it")


def stages_of(plan: FeaturePlan) -> list[str]:
    names = [("image_encoder", plan.image_encoder), ("ocr", plan.ocr), ("text_encoder", plan.text_encoder)]
    return [name for name, component in names if component is not None]
