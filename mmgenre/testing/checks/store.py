"""Checks for feature stores: entries come back bit for bit, a writer killed part-way leaves only whole batches,
writers in several processes at once lose nothing, and damaged files are refused or left out, never returned."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

from mmgenre.errors import MmgenreError
from mmgenre.testing.contract import CheckSkipped, check, expect
from mmgenre.testing.workbench import Workbench

BATCH = 5  # entries per put_many


def namespace(label: str):
    from mmgenre.features.namespaces import Namespace

    return Namespace(f"check/{label}/0123456789abcdef/pooled", "image_encoder", "check", "pooled", {"check": label})


def entry(n: int, writer: int = 0) -> tuple[str, dict, bytes]:
    """A feature entry as encoders make them (a packed float32 vector), or every third one a text result."""
    import numpy as np

    from mmgenre.features.codec import pack

    key = f"{writer:02d}{n:06d}" + "ab" * 28
    if n % 3 == 2:
        return key, {"text": f"text {writer} {n} é", "words": []}, b""
    return (key, *pack(np.linspace(-1, 1, 16, dtype=np.float32) * (n + 1) + writer))


def fresh_store(bench: Workbench, label: str) -> tuple[Any, dict]:
    """A store in a new place (its `conformance_params` for a new folder), and those params."""
    params = bench.component.conformance_params(bench.scratch(label))
    params = dict(params) if params is not None else bench.params_data()
    return bench.make_from(params), params


def write_batches(component: Any, params: dict, label: str, writer: int, batches: int) -> None:
    """In a child process: `batches` batches of entries (forever when batches < 0)."""
    store = component(component.Params.model_validate(params))
    space = namespace(label)
    store.register(space)
    n = 0
    while batches < 0 or n < batches * BATCH:
        store.put_many(space.name, [entry(i, writer) for i in range(n, n + BATCH)])
        n += BATCH
    store.close()


def child(component: Any, params: dict, label: str, writer: int, batches: int):
    process = multiprocessing.get_context("spawn").Process(
        target=write_batches, args=(component, params, label, writer, batches), daemon=True
    )
    process.start()
    return process


def held(store: Any, label: str, keys: list[str]) -> dict[str, tuple[dict, bytes]]:
    return store.get_many(namespace(label).name, keys)


@check(
    "store",
    contract="put_many then get_many gives back every entry (meta and bytes) unchanged, in a new store object on "
    "the same place too; missing() lists exactly the keys not stored, in order, each once",
    fix="store meta as JSON and data as raw bytes; answer missing() from what is stored, not from a guess",
)
def entries_come_back_unchanged(bench: Workbench) -> None:
    store, params = fresh_store(bench, "round-trip")
    space = namespace("round-trip")
    store.register(space)
    entries = [entry(n) for n in range(12)]
    store.put_many(space.name, entries[:7])
    store.put_many(space.name, [])
    keys = [key for key, _, _ in entries]
    expect(store.missing(space.name, keys + keys[:1]) == keys[7:], f"missing() gave {store.missing(space.name, keys)}")
    store.close()
    again = bench.make_from(params)
    got = again.get_many(space.name, keys)
    expect(set(got) == set(keys[:7]), f"a new store object found {len(got)} of the 7 entries stored")
    for key, meta, data in entries[:7]:
        expect(got[key] == (meta, data), f"entry {key[:8]} came back as {got[key]!r}, not {(meta, data)!r}")
    again.close()


@check(
    "store",
    contract="a writer killed (SIGKILL) part-way leaves only whole batches: every entry found is the one written, "
    "and each batch is there whole or not at all",
    fix="write each put_many in one transaction, or as one file under a temporary name renamed when whole",
)
def a_killed_writer_leaves_whole_batches(bench: Workbench) -> None:
    store, params = fresh_store(bench, "killed")
    process = child(bench.component, params, "killed", 1, batches=-1)
    probe = [entry(n, 1)[0] for n in range(BATCH * 3)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and store.missing(namespace("killed").name, probe):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    again = bench.make_from(params)
    keys = [entry(n, 1)[0] for n in range(BATCH * 2000)]
    found = held(again, "killed", keys)
    expect(len(found) >= BATCH * 3, f"only {len(found)} entries were found after the writer was killed")
    for n, key in enumerate(keys):
        whole = all(entry(m, 1)[0] in found for m in range(n - n % BATCH, n - n % BATCH + BATCH))
        if key in found:
            expect(found[key] == entry(n, 1)[1:], f"entry {n} came back changed after the kill")
            expect(whole, f"the batch of entry {n} is there only in part after the kill")
    again.close()


@check(
    "store",
    contract="several processes writing the same place at once (other keys, and the same keys with the same "
    "values) lose nothing: afterwards every entry of every writer is there, unchanged",
    fix="never rewrite shared files whole without a lock; write new files under unique names, or use a "
    "database that serialises writers",
)
def concurrent_writers_lose_nothing(bench: Workbench) -> None:
    store, params = fresh_store(bench, "concurrent")
    processes = [child(bench.component, params, "concurrent", writer, batches=8) for writer in (2, 3, 3)]
    for process in processes:
        process.join(120)
        expect(process.exitcode == 0, f"a writer process ended with exit code {process.exitcode}")
    again = bench.make_from(params)
    for writer in (2, 3):
        keys = [entry(n, writer)[0] for n in range(8 * BATCH)]
        found = held(again, "concurrent", keys)
        expect(len(found) == len(keys), f"writer {writer}: {len(found)} of its {len(keys)} entries are there")
        expect(all(found[k] == entry(n, writer)[1:] for n, k in enumerate(keys)), f"writer {writer}: entries changed")
    again.close()


@check(
    "store",
    contract="after the files it keeps in its folder are cut short, a store either refuses with an MmgenreError (one "
    "`Error:` line) or leaves the damaged entries out (missing, to be computed again): it never returns an "
    "entry that differs from the one written",
    fix="check what is read back (schema, sizes, finite numbers) and leave out or refuse what fails",
)
def damaged_files_are_not_returned(bench: Workbench) -> None:
    folder = bench.scratch("damaged")
    params = bench.component.conformance_params(folder)
    if params is None:
        raise CheckSkipped("its conformance_params(folder) keep nothing in the folder, so there is nothing to damage")
    store = bench.make_from(dict(params))
    space = namespace("damaged")
    store.register(space)
    entries = [entry(n) for n in range(40)]
    for start in range(0, len(entries), BATCH):
        store.put_many(space.name, entries[start : start + BATCH])
    store.close()
    damaged = damage(folder)
    expect(damaged, f"the store wrote no file into {folder} to damage")
    try:
        again = bench.make_from(dict(params))
        found = held(again, "damaged", [key for key, _, _ in entries])
    except MmgenreError:
        return
    for key, meta, data in entries:
        if key in found:
            expect(found[key] == (meta, data), f"a damaged entry {key[:8]} was returned as {found[key]!r}")
    expect(
        len(found) < len(entries), f"all {len(entries)} entries came back unchanged from {len(damaged)} damaged files"
    )


def damage(folder: Path) -> list[Path]:
    """Cut every non-hidden file under `folder` to 60% of its size (a crash, a partial copy); returns them."""
    damaged = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.stat().st_size > 64:
            with path.open("r+b") as handle:
                handle.truncate(path.stat().st_size * 3 // 5)
            damaged.append(path)
    return damaged
