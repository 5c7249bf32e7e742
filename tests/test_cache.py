"""The feature cache: compact storage, sharing between recipes, kill -9 safety, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from mmgenre.features.cache import FeatureCache
from mmgenre.features.codec import pack, unpack
from mmgenre.recipe import load_recipe


def test_embeddings_are_stored_as_float16_when_they_fit():
    small = np.linspace(-3, 3, 384, dtype=np.float32)
    meta, data = pack(small)
    assert meta["dtype"] == "float16" and len(data) == 384 * 2
    np.testing.assert_allclose(unpack(meta, data), small, atol=2e-3)
    huge = np.array([1e6, -2.0], dtype=np.float32)
    assert pack(huge)[0]["dtype"] == "float32"
    assert np.array_equal(unpack(*pack(huge)), huge)


def test_entries_are_keyed_by_component_identity(tmp_path):
    cache = FeatureCache(tmp_path)
    ocr = load_recipe("paper-offline").ocr
    changed = load_recipe("paper-offline", ["ocr.params.min_confidence=0.7"]).ocr
    threads_only = load_recipe("paper-offline", ["ocr.params.threads=4"]).ocr
    first = cache.namespace(ocr, "ocr")
    assert cache.namespace(changed, "ocr") != first  # a param that changes outputs gets new entries
    assert cache.namespace(threads_only, "ocr") == first  # one that doesn't shares them
    cache.put_many(first, [("k1", {"text": "A", "words": []}, b"")])
    assert cache.get_many(first, ["k1", "k2"]) == {"k1": ({"text": "A", "words": []}, b"")}
    assert cache.missing(first, ["k1", "k2"]) == ["k2"]
    rows = {row.namespace: row for row in cache.info()}
    assert (rows[first].kind, rows[first].name, rows[first].output, rows[first].entries) == (
        "ocr",
        "rapidocr",
        "ocr",
        1,
    )
    assert cache.clear(kind="ocr") == 1 and cache.missing(first, ["k1"]) == ["k1"]


def test_recipes_sharing_an_encoder_share_its_entries(cli, posters_dir, tmp_path, tiny_recipe):
    first = cli(
        "features",
        tiny_recipe,
        "--data",
        posters_dir,
        "--set",
        "fusion.name=image-only",
        "--cache-dir",
        tmp_path,
        "--json",
    )
    assert json.loads(first.stdout)["computed"] == {"image_encoder": 72}
    other_head = cli(
        "features",
        tiny_recipe,
        "--data",
        posters_dir,
        "--set",
        "fusion.name=concat",
        "--set",
        "ocr.name=tesseract",
        "--cache-dir",
        tmp_path,
        "--json",
    )
    computed = json.loads(other_head.stdout)["computed"]
    assert computed["image_encoder"] == 0 and computed["ocr"] == 72  # only the new OCR engine ran


def entries(cache_dir) -> int:
    """Entries in the cache; 0 while the process filling it has created the file but not yet its tables."""
    with sqlite3.connect(cache_dir / "features.sqlite", timeout=30) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'entries'").fetchone():
            return 0
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def integrity(cache_dir) -> str:
    with sqlite3.connect(cache_dir / "features.sqlite", timeout=30) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def features_command(recipe, data, cache_dir) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mmgenre",
        "features",
        str(recipe),
        "--data",
        str(data),
        "--set",
        "fusion.name=image-only",
        "--set",
        "features.batch_size=8",
        "--cache-dir",
        str(cache_dir),
        "--json",
    ]


@pytest.mark.slow
def test_a_run_killed_at_any_moment_leaves_whole_entries_and_resumes(posters_dir, tmp_path, tiny_recipe):
    process = subprocess.Popen(
        features_command(tiny_recipe, posters_dir, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (tmp_path / "features.sqlite").exists() and entries(tmp_path) >= 8:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = entries(tmp_path)
    assert 8 <= done < 72, "the kill should land mid-run"
    assert integrity(tmp_path) == "ok"
    cache = FeatureCache(tmp_path)
    namespace = cache.namespace(load_recipe(tiny_recipe).image_encoder, "pooled")
    for meta, data in cache.get_many(namespace, _keys(tmp_path)).values():
        assert unpack(meta, data).shape == (1280,)
    resumed = subprocess.run(features_command(tiny_recipe, posters_dir, tmp_path), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["computed"]["image_encoder"] == 72 - done  # only what was missing
    assert summary["with_features"] == 72 and entries(tmp_path) == 72


def _keys(cache_dir) -> list[str]:
    with sqlite3.connect(cache_dir / "features.sqlite") as db:
        return [key for (key,) in db.execute("SELECT key FROM entries")]


@pytest.mark.slow
def test_two_processes_filling_one_cache_at_once(posters_dir, tmp_path, tiny_recipe):
    runs = [
        subprocess.Popen(
            features_command(tiny_recipe, posters_dir, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    assert all(json.loads(out)["with_features"] == 72 for out, _ in outputs)
    assert integrity(tmp_path) == "ok" and entries(tmp_path) == 72


def _open_after(barrier, root, failures) -> None:
    barrier.wait()
    try:
        FeatureCache(root)
    except Exception as error:  # noqa: BLE001 - the test reports whatever went wrong
        failures.put(str(error))


def test_processes_creating_one_cache_at_once_all_open_it(tmp_path):
    """Switching a new database to WAL answers "locked" at once in all but one process: they must retry."""
    context = multiprocessing.get_context("fork")
    failures = context.Queue()
    for round_ in range(10):
        barrier = context.Barrier(4)
        openers = [
            context.Process(target=_open_after, args=(barrier, tmp_path / str(round_), failures)) for _ in range(4)
        ]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=120)
    assert failures.empty(), failures.get()
