"""Checks for executors: on the probe feature makers, the same entries as the local executor, bit for bit, and a
run stopped part-way keeps what it stored, so the next run computes only the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmgenre.testing.contract import check, expect
from mmgenre.testing.workbench import Workbench

POSTERS = 6  # two with the same bytes; image batches of 4


class Stopped(Exception):
    """The stand-in for a killed run: raised by a store after some writes."""


class StopAfter:
    """A store that takes `writes` batches and then raises Stopped, as if the process had been killed."""

    def __init__(self, store: Any, writes: int) -> None:
        self.store, self.writes = store, writes
        self.passed: list[tuple[str, list[str]]] = []  # (namespace, keys) of every batch let through

    def register(self, namespace):
        return self.store.register(namespace)

    def missing(self, namespace, keys):
        return self.store.missing(namespace, keys)

    def get_many(self, namespace, keys):
        return self.store.get_many(namespace, keys)

    def put_many(self, namespace, items):
        items = list(items)
        if not items:
            return  # an empty batch writes nothing: it does not count
        if self.writes <= 0:
            raise Stopped("stopped part-way")
        self.writes -= 1
        self.store.put_many(namespace, items)
        self.passed.append((namespace, [key for key, _meta, _data in items]))

    def kept(self) -> int:
        """How many of the entries let through the store still holds."""
        return sum(len(self.store.get_many(namespace, keys)) for namespace, keys in self.passed)


def settings():
    from mmgenre.features.plan import Settings

    return Settings(device="cpu", batch_size=4, ocr_workers=1)


def plan_for(paths: list[Path], store: Any, skips: Any):
    """A plan of the probe OCR engine and encoders for `paths`: what `store` lacks."""
    from mmgenre.features.namespaces import FeatureSpaces, Namespace
    from mmgenre.features.plan import FeaturePlan, plan_texts
    from mmgenre.features.sources import ImageOptions, hash_sources
    from mmgenre.testing.probe_features import ProbeImageEncoder, ProbeOcr, ProbeTextEncoder

    ocr, image, text = ProbeOcr(), ProbeImageEncoder(), ProbeTextEncoder()
    spaces = FeatureSpaces(
        ocr=Namespace.of(ocr, "ocr"), image=Namespace.of(image, "pooled"), text=Namespace.of(text, "pooled")
    )
    for space in spaces.all():
        store.register(space)
    options = ImageOptions()
    plan = FeaturePlan(hash_sources(paths, options, skips), spaces, options, ocr, image, text)
    unique = list({source.key: source for source in plan.readable}.values())
    keys = [source.key for source in unique]
    lacking_images = set(store.missing(spaces.image.name, keys))  # type: ignore[union-attr]
    lacking_texts = set(store.missing(spaces.ocr.name, keys))  # type: ignore[union-attr]
    plan.image_todo = [source for source in unique if source.key in lacking_images]
    plan.ocr_todo = [source for source in unique if source.key in lacking_texts]
    plan_texts(plan, store)
    return plan


def run(executor: Any, store: Any, paths: list[Path]) -> dict[str, int]:
    """Plan and execute as `extract_features` does (texts read by OCR are embedded in a second pass)."""
    from mmgenre.data.skips import SkipLog
    from mmgenre.features.plan import plan_texts

    skips = SkipLog()
    plan = plan_for(paths, store, skips)
    computed = dict(executor.execute(plan, store, skips, False))
    plan.ocr_todo, plan.image_todo = [], []
    plan_texts(plan, store)
    for stage, count in executor.execute(plan, store, skips, False).items():
        computed[stage] = computed.get(stage, 0) + count
    expect(not skips, f"posters were skipped: {[(s.where, s.category, s.detail) for s in skips.skips]}")
    return computed


def contents(store: Any, paths: list[Path]) -> dict[str, dict[str, tuple[dict, bytes]]]:
    """Every entry of the probe plan's namespaces that the store holds."""
    from mmgenre.data.skips import SkipLog
    from mmgenre.features.namespaces import text_key

    plan = plan_for(paths, store, SkipLog())
    keys = [source.key for source in plan.readable]
    texts = [meta["text"] for meta, _ in store.get_many(plan.spaces.ocr.name, keys).values()]
    found = {space.name: store.get_many(space.name, keys) for space in (plan.spaces.ocr, plan.spaces.image)}
    found[plan.spaces.text.name] = store.get_many(plan.spaces.text.name, [text_key(t) for t in texts])
    return found


def reference(bench: Workbench) -> tuple[list[Path], dict]:
    """The probe posters and the local executor's entries for them (made once)."""

    def make():
        from mmgenre.features.local_executor import LocalExecutor
        from mmgenre.features.store import MemoryStore
        from mmgenre.testing.probe_features import probe_posters

        paths = probe_posters(bench.scratch("posters"), POSTERS)
        store = MemoryStore()
        with LocalExecutor(settings()) as local:
            run(local, store, paths)
        return paths, contents(store, paths)

    return bench.once("local entries", make)


def differences(got: dict, want: dict) -> list[str]:
    problems = []
    for namespace, entries in want.items():
        mine = got.get(namespace, {})
        if set(mine) != set(entries):
            problems.append(f"{namespace}: {len(mine)} entries, the local executor's {len(entries)}")
            continue
        changed = [key for key, (meta, data) in entries.items() if mine[key] != (meta, data)]
        if changed:
            problems.append(f"{namespace}: {len(changed)} of {len(entries)} entries differ from the local executor's")
    return problems


def executor_run(bench: Workbench, store: Any, paths: list[Path]) -> dict[str, int]:
    executor = bench.make()
    executor.run_settings = settings()
    try:
        return run(executor, store, paths)
    finally:
        executor.close()


@check(
    "executor",
    contract="execute(plan, store, skips) computes every entry the plan lacks and puts it in the store, the same "
    "bit for bit as the local executor (same batches, same functions), and returns the items computed per stage",
    fix="compute with mmgenre.features.encode_stage / ocr_stage on image batches of run_settings.batch_size, and "
    "store every entry the workers return (store.put_many) before execute returns",
)
def same_entries_as_local(bench: Workbench) -> None:
    from mmgenre.features.store import MemoryStore

    paths, want = reference(bench)
    store = MemoryStore()
    computed = executor_run(bench, store, paths)
    problems = differences(contents(store, paths), want)
    expect(not problems, "; ".join(problems))
    unique = len({p.read_bytes() for p in paths})
    expect(
        computed.get("image_encoder") == unique and computed.get("ocr") == unique,
        f"it reported {computed} computed for {unique} distinct posters",
    )


@check(
    "executor",
    contract="a run stopped part-way (the store raising in put_many, as a killed run stops) keeps the entries it "
    "stored; the next run on that store computes only what is missing and ends with the local executor's entries",
    fix="write results to the store as they arrive (not all at the end), and let the store's exception propagate",
)
def resumes_after_a_stop(bench: Workbench) -> None:
    from mmgenre.features.store import MemoryStore

    paths, want = reference(bench)
    inner = MemoryStore()
    stopping = StopAfter(inner, writes=1)
    try:
        executor_run(bench, stopping, paths)
        expect(False, "the run went on although the store raised in put_many")
    except Stopped:
        pass
    kept = stopping.kept()  # in any namespace: a text entry may land before the OCR entry it came from
    expect(kept > 0, "nothing the stopped run computed was kept in the store")
    computed = executor_run(bench, inner, paths)
    total = sum(len(entries) for entries in want.values())
    expect(sum(computed.values()) < total, f"the rerun computed {computed} again, after {kept} entries were kept")
    problems = differences(contents(inner, paths), want)
    expect(not problems, "after the rerun: " + "; ".join(problems))
