"""A feature plan as independent tasks: what any executor runs on its workers, and how results come back.

`plan_tasks(plan, settings)` cuts a plan into tasks (image batches of `settings.batch_size`, exactly as the local
executor batches them, so embeddings are the same bit for bit; OCR in small batches; texts to embed). Each task
is a picklable function and its arguments; running it anywhere gives a `TaskResult`, which `store_result` puts
into the store. An executor only decides where tasks run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmgenre.data.skips import SkipLog
from mmgenre.features.store import Entry, FeatureStore


@dataclass
class TaskResult:
    """What one task computed: entries by namespace, skips (key, name, category, detail), a fatal error."""

    stage: str
    items: int
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    skips: list[tuple[str, str, str, str]] = field(default_factory=list)
    fatal: str | None = None  # the component cannot run at all (its message)


@dataclass(frozen=True)
class Task:
    stage: str
    function: Callable[..., TaskResult]
    args: tuple

    def run(self) -> TaskResult:
        return self.function(*self.args)


Prepare = Callable[[Any, Callable[[Any], None]], Any]


def as_is(component, prepare: Callable[[Any], None]):
    """Prepare (load) the component object the task was given; `loaded` functions of executors may keep one
    prepared copy per worker instead."""
    prepare(component)
    return component


def ready(result: TaskResult, component, keep: Prepare, setup):
    """The component, set up by `keep` (once per worker); None, with the failure in `result.fatal`, if that fails."""
    try:
        return keep(component, setup)
    except Exception as error:
        result.fatal = f"{type(error).__name__}: {error}"
        return None


def image_task(encoder, sources: list, options, pooled, tokens, settings, keep: Prepare = as_is) -> TaskResult:
    """One image batch, encoded as the local executor encodes it."""
    from mmgenre.features.encode_stage import image_entry_batches

    result = TaskResult("image_encoder", len(sources))
    encoder = ready(result, encoder, keep, lambda e: e.load(settings.device))
    if encoder is None:
        return result
    for batch in image_entry_batches(
        encoder, sources, options, pooled, tokens, device=settings.device, batch_size=settings.batch_size,
        gpu_decode=settings.gpu_decode, bf16=settings.bf16, gpu_decoder=settings.gpu_decoder,
    ):  # fmt: skip
        merge(result.entries, batch.entries)
        result.skips += [(source.key, str(source), bad.category, bad.detail) for source, bad in batch.bad]
    return result


def ocr_task(engine, sources: list, options, namespace: str, keep: Prepare = as_is) -> TaskResult:
    """OCR of a few posters as the local executor reads them: `read_batch` over chunks of `engine.batch_size` for
    a batching engine, else one poster at a time."""
    from mmgenre.features.ocr_stage import load_poster, read_chunk, read_poster

    result = TaskResult("ocr", len(sources))
    engine = ready(result, engine, keep, start_engine)
    if engine is None:
        return result
    size = engine.batch_size
    if size > 1:
        outcomes = []
        for chunk in chunks(sources, size):
            outcomes += read_chunk(engine, [load_poster(source, options) for source in chunk])
    else:
        outcomes = [read_poster(engine, source, options) for source in sources]
    for source, outcome in zip(sources, outcomes):
        if outcome.status == "ok":
            result.entries.setdefault(namespace, []).append((source.key, outcome.result, b""))
        elif outcome.status == "fatal":
            result.fatal = outcome.detail
            break
        else:
            result.skips.append((source.key, str(source), outcome.category, outcome.detail))
    return result


def start_engine(engine) -> None:
    """What an OCR worker process does once: configure the process for the engine, then set it up."""
    engine.configure_process()
    engine.setup()


def text_task(encoder, texts: dict[str, str], pooled, tokens, settings, keep: Prepare = as_is) -> TaskResult:
    from mmgenre.features.encode_stage import text_entry_batches

    result = TaskResult("text_encoder", len(texts))
    encoder = ready(result, encoder, keep, lambda e: e.load(settings.device))
    if encoder is None:
        return result
    for batch in text_entry_batches(
        encoder, texts, pooled, tokens, device=settings.device, batch_size=settings.batch_size, bf16=settings.bf16
    ):
        merge(result.entries, batch.entries)
    return result


def plan_tasks(plan, settings, *, ocr_batch: int = 8, components: Callable[[Any], Any] | None = None) -> list[Task]:
    """The plan's work as tasks. `components(c)` gives what tasks receive for component c (default: c itself;
    a cluster executor may send one copy to every worker first)."""
    send = components or (lambda component: component)
    spaces, tasks = plan.spaces, []
    if plan.image_todo and plan.image_encoder is not None:
        encoder = send(plan.image_encoder)
        for batch in chunks(plan.image_todo, settings.batch_size):
            tasks.append(
                Task(
                    "image_encoder",
                    image_task,
                    (encoder, batch, plan.options, spaces.image, spaces.image_tokens, settings),
                )
            )
    if plan.ocr_todo and plan.ocr is not None and spaces.ocr is not None:
        engine = send(plan.ocr)
        for batch in chunks(plan.ocr_todo, ocr_batch):
            tasks.append(Task("ocr", ocr_task, (engine, batch, plan.options, spaces.ocr.name)))
    if plan.text_todo and plan.text_encoder is not None:
        encoder = send(plan.text_encoder)
        for keys in chunks(list(plan.text_todo), settings.batch_size):
            texts = {key: plan.text_todo[key] for key in keys}
            tasks.append(Task("text_encoder", text_task, (encoder, texts, spaces.text, spaces.text_tokens, settings)))
    return tasks


def store_result(result: TaskResult, store: FeatureStore, skips: SkipLog) -> None:
    """Put a task's entries into the store and log its skips; a fatal result is a ComponentUnavailableError."""
    if result.fatal:
        from mmgenre.errors import ComponentUnavailableError

        raise ComponentUnavailableError(f"{result.stage.replace('_', ' ')} cannot run: {result.fatal}")
    for namespace, entries in result.entries.items():
        store.put_many(namespace, entries)
    for _key, name, category, detail in result.skips:
        skips.skip(name, category, detail)


def merge(into: dict[str, list[Entry]], entries: dict[str, list[Entry]]) -> None:
    for namespace, items in entries.items():
        into.setdefault(namespace, []).extend(items)


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]
