"""Parquet shards: `mmgenre cache export` / `import` round trips, idempotent imports, damaged shards skipped,
and `mmgenre cache check`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import POSTERS, REGISTRY, TEST_RECIPES, poster_rows

from mmgenre.features.cache import FeatureCache
from mmgenre.features.pipeline import extract_features
from mmgenre.features.shards import MARKER, NAMESPACES_FILE, finished_shards, ingest, write_shard
from mmgenre.features.store import MemoryStore
from mmgenre.recipe import load_recipe


def entries(cache: FeatureCache) -> dict[str, dict[str, tuple[dict, bytes]]]:
    return {ns.name: {k: (m, d) for chunk in cache.entries(ns.name) for k, m, d in chunk} for ns in cache.namespaces()}


def namespaces(cache: FeatureCache) -> set[tuple]:
    return {(n.name, n.kind, n.component, n.output, json.dumps(n.identity, sort_keys=True)) for n in cache.namespaces()}


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory) -> Path:
    """A cache holding the tiny recipe's real features (OCR text, image and text embeddings) of 4 posters."""
    folder = tmp_path_factory.mktemp("filled-cache")
    recipe = load_recipe(str(TEST_RECIPES / "tiny.yaml"), [], REGISTRY)
    with FeatureCache(folder) as cache:
        features = extract_features(recipe, [POSTERS / r["file"] for r in poster_rows(4)], cache, progress=False)
        assert len(features) == 4
    return folder


def test_export_then_import_gives_identical_entries(cli, filled_cache, tmp_path):
    exported = cli("cache", "export", tmp_path / "export", "--cache-dir", filled_cache, "--json")
    assert exported.exit_code == 0, exported.stderr
    summary = json.loads(exported.stdout)
    with FeatureCache(filled_cache) as source:
        want, want_spaces = entries(source), namespaces(source)
    assert summary["entries"] == sum(len(v) for v in want.values()) and summary["namespaces"] == len(want) >= 3
    assert (tmp_path / "export" / MARKER).is_file() and (tmp_path / "export" / NAMESPACES_FILE).is_file()
    imported = cli("cache", "import", tmp_path / "export", "--cache-dir", tmp_path / "copy")
    assert imported.exit_code == 0, imported.stderr
    assert f"imported {summary['entries']:,} new entries from {summary['shards']} shards" in imported.stdout
    with FeatureCache(tmp_path / "copy") as copy:
        assert entries(copy) == want
        assert namespaces(copy) == want_spaces  # `cache info` shows the same components and params


def test_import_twice_adds_nothing(cli, filled_cache, tmp_path):
    assert cli("cache", "export", tmp_path / "export", "--cache-dir", filled_cache).exit_code == 0
    first = cli("cache", "import", tmp_path / "export", "--cache-dir", tmp_path / "copy", "--json")
    again = cli("cache", "import", tmp_path / "export", "--cache-dir", tmp_path / "copy", "--json")
    assert json.loads(first.stdout)["new_entries"] > 0
    assert json.loads(again.stdout)["new_entries"] == 0
    with FeatureCache(filled_cache) as source, FeatureCache(tmp_path / "copy") as copy:
        assert entries(copy) == entries(source)


def test_export_refuses_a_folder_that_is_not_an_export_and_refreshes_one_that_is(cli, filled_cache, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = cli("cache", "export", foreign, "--cache-dir", filled_cache)
    assert refused.exit_code == 1 and "not written by mmgenre" in refused.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    first = cli("cache", "export", tmp_path / "export", "--cache-dir", filled_cache, "--json")
    again = cli("cache", "export", tmp_path / "export", "--cache-dir", filled_cache, "--json")
    assert again.exit_code == 0, again.stderr
    assert len(finished_shards(tmp_path / "export")) == json.loads(first.stdout)["shards"]  # replaced, not added


def test_a_truncated_shard_is_skipped_named_and_fails_the_import(cli, filled_cache, tmp_path):
    import pyarrow.parquet as pq

    assert cli("cache", "export", tmp_path / "export", "--cache-dir", filled_cache).exit_code == 0
    shards = finished_shards(tmp_path / "export")
    ocr = next(p for p in shards if pq.read_table(p)["namespace"][0].as_py().startswith("ocr/"))
    ocr_namespace = pq.read_table(ocr)["namespace"][0].as_py()
    ocr.write_bytes(ocr.read_bytes()[: ocr.stat().st_size // 2])  # a copy cut short
    (tmp_path / "export" / ".export-leftover.parquet.tmp").write_bytes(b"half a shard")  # a killed writer's
    result = cli("cache", "import", tmp_path / "export", "--cache-dir", tmp_path / "copy", "--json")
    assert result.exit_code == 1, result.stderr  # not everything came in: said, and the rest imported
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: 1 of {len(shards)} shards")
    assert f"shard {ocr} can't be read" in result.stderr and "leftover" not in result.stderr
    assert json.loads(result.stdout)["unreadable_shards"] == [str(ocr)]
    with FeatureCache(filled_cache) as source, FeatureCache(tmp_path / "copy") as copy:
        want, got = entries(source), entries(copy)
    assert got.pop(ocr_namespace, {}) == {}
    assert got == {ns: e for ns, e in want.items() if ns != ocr_namespace}


def test_shards_go_into_any_store(filled_cache, tmp_path):
    """`ingest` needs only the store protocol; shards written by workers land whole or not at all."""
    with FeatureCache(filled_cache) as source:
        want = entries(source)
    for namespace, by_key in want.items():
        write_shard(tmp_path, {namespace: [(k, m, d) for k, (m, d) in by_key.items()]}, prefix="worker")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    store = MemoryStore()
    report = ingest(tmp_path, store)
    assert report.shards == len(want) and report.entries == sum(len(v) for v in want.values()) and not report.bad
    assert store.entries == want


def test_cache_check(cli, tmp_path):
    with FeatureCache(tmp_path / "cache") as cache:
        cache.put_many("some/namespace", [(f"key{i:05d}", {"i": i}, os.urandom(300)) for i in range(3000)])
        cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    healthy = cli("cache", "check", "--cache-dir", tmp_path / "cache")
    assert healthy.exit_code == 0 and healthy.stdout.strip().endswith("features.sqlite: ok")
    path = tmp_path / "cache" / "features.sqlite"
    with open(path, "r+b") as handle:  # a disk error in the middle of the entries
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\xff" * 3 * 4096)
    damaged = cli("cache", "check", "--cache-dir", tmp_path / "cache")
    assert damaged.exit_code == 1
    assert f"the feature cache {path} is damaged" in damaged.stderr and "mmgenre cache clear --yes" in damaged.stderr


def test_shard_folder_options(cli, tmp_path):
    """--shards belongs to the Ray executor, and never points at a folder mmgenre did not write."""
    local = cli("features", TEST_RECIPES / "tiny.yaml", "--data", tmp_path, "--shards", tmp_path / "shards")
    assert local.exit_code == 2 and "--shards only apply with --executor ray" in local.stderr
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.parquet").write_bytes(b"not ours")
    refused = cli("features", TEST_RECIPES / "tiny.yaml", "--data", tmp_path, "--executor", "ray", "--shards", foreign)
    assert refused.exit_code == 1 and "--shards" in refused.stderr and "not written by mmgenre" in refused.stderr
    assert [p.name for p in foreign.iterdir()] == ["holiday.parquet"]
