"""The Ray Data graph of a feature plan: which stages run, as how many actors, holding what.

    image branch:  plan batches of posters -> read bytes -> image-encoder actors
    text branch:   posters -> read bytes -> OCR actors -> text-encoder actors   (plus the plan's texts)

Both branches stream side by side (a union); each read runs fused into the actor after it (same resources),
so poster bytes go from the file straight to the worker that uses them.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mmgenre.features.plan import FeaturePlan, Settings
from mmgenre.features.ray_stages import (
    ImageStage,
    OcrStage,
    TextStage,
    poster_tables,
    read_posters,
    text_tables,
)

if TYPE_CHECKING:
    from mmgenre.features.ray_executor import Layout, RayOptions


def fresh(component):
    """An unloaded copy of a component (class and params only) to send to workers."""
    return type(component)(component.params)


def build_dataset(plan: FeaturePlan, settings: Settings, options: RayOptions, layout: Layout, shard_dir: str):
    """The dataset whose output rows are the reports of every batch of work (make and run it inside
    `quiet_data_context`)."""
    branches = []
    if layout.image_actors:
        branches.append(image_branch(plan, settings, options, layout, shard_dir))
    if layout.ocr_actors or layout.text_actors:
        branches.append(text_branch(plan, settings, options, layout, shard_dir))
    return branches[0].union(*branches[1:]) if len(branches) > 1 else branches[0]


def actor_args(layout: Layout, actors: int, resources: dict, gpu: bool, batch_size: int | None) -> dict:
    """map_batches arguments for a pool of `actors` actors (and the read fused into it)."""
    import ray.data

    on_gpu = gpu and layout.encoder_gpus is not None
    args = {
        "batch_format": "pyarrow",
        "num_cpus": layout.actor_cpus,
        "num_gpus": layout.encoder_gpus if on_gpu else None,  # None, not 0, on CPU (0 trips a GPU check)
        "resources": dict(resources) or None,
        "batch_size": batch_size,  # None: one block per call
    }
    pool = ray.data.ActorPoolStrategy(
        min_size=1, max_size=actors, initial_size=actors, max_tasks_in_flight_per_actor=1
    )  # one batch queued per actor at a time: no actor sits on a backlog while others idle at the end
    return {"read": args, "stage": {**args, "compute": pool}}


def image_branch(plan, settings: Settings, options: RayOptions, layout: Layout, shard_dir: str):
    import ray.data

    on_gpu = layout.encoder_gpus is not None  # GPU actors need a batch size; CPU ones take each plan batch whole
    args = actor_args(
        layout, layout.image_actors, options.encoder_resources, True, settings.batch_size if on_gpu else None
    )
    stage = {
        "encoder": fresh(plan.image_encoder),
        "spaces": plan.spaces,
        "options": plan.options,
        "settings": settings,
        "shard_dir": shard_dir,
        "threads": options.encoder_threads,
    }
    dataset: Any = ray.data.from_arrow(poster_tables(plan.image_todo, settings.batch_size))
    dataset = dataset.map_batches(
        read_posters, fn_kwargs={"options": plan.options, "stage": "image_encoder"}, **args["read"]
    )
    return dataset.map_batches(ImageStage, fn_constructor_kwargs=stage, **args["stage"])


def text_branch(plan, settings: Settings, options: RayOptions, layout: Layout, shard_dir: str):
    """OCR then text embeddings; the plan's texts (read in an earlier run) join at the text stage."""
    import ray.data

    tables = poster_tables(plan.ocr_todo, options.ocr_batch) if layout.ocr_actors else []
    tables += text_tables(plan.text_todo, settings.batch_size) if layout.text_actors else []
    dataset: Any = ray.data.from_arrow(tables)
    if layout.ocr_actors:
        args = actor_args(layout, layout.ocr_actors, options.ocr_resources, False, None)
        stage = {
            "engine": fresh(plan.ocr),
            "space": plan.spaces.ocr,
            "options": plan.options,
            "shard_dir": shard_dir,
            "emit_texts": bool(layout.text_actors),
        }
        dataset = dataset.map_batches(read_posters, fn_kwargs={"options": plan.options, "stage": "ocr"}, **args["read"])
        dataset = dataset.map_batches(OcrStage, fn_constructor_kwargs=stage, **args["stage"])
    if layout.text_actors:
        args = actor_args(layout, layout.text_actors, options.encoder_resources, True, settings.batch_size)
        stage = {
            "encoder": fresh(plan.text_encoder),
            "spaces": plan.spaces,
            "settings": settings,
            "shard_dir": shard_dir,
            "threads": options.encoder_threads,
        }
        dataset = dataset.map_batches(TextStage, fn_constructor_kwargs=stage, **args["stage"])
    return dataset


@contextmanager
def quiet_data_context():
    """Ray Data without its progress bars (we draw our own; datasets made inside keep a copy of the context),
    its memory-use notices, and the deprecation warnings its own context raises when it is made or copied."""
    from ray.data import DataContext

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="ray.data.context")
        context = DataContext.get_current()
        memory = context.issue_detectors_config.high_memory_detector_config
        before = context.enable_progress_bars, memory.detection_time_interval_s
        context.enable_progress_bars = False
        memory.detection_time_interval_s = -1  # "uses N GiB per worker" every 30 s would drown our progress lines
        try:
            yield
        finally:
            context.enable_progress_bars, memory.detection_time_interval_s = before
