"""Feature stores as plugins: one URL opens any of them; the SQLite cache and the Parquet shard store (a local
folder, and S3 on a moto server started here on 127.0.0.1) pass mmgenre.testing's store checks; damaged shards
and foreign folders are refused without a byte of theirs touched."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import numpy as np
import pytest
from conftest import MMGENRE, POSTERS, REGISTRY, TEST_RECIPES, poster_rows, write_dataset

from mmgenre.components import Store
from mmgenre.errors import MmgenreError
from mmgenre.features.codec import pack
from mmgenre.features.namespaces import Namespace
from mmgenre.features.store_url import open_store, url_scheme
from mmgenre.testing import ConformanceError, check_component, checks_for

SPACE = Namespace("image_encoder/probe/0123456789abcdef/pooled", "image_encoder", "probe", "pooled", {})


def entries(count: int, start: int = 0) -> list[tuple[str, dict, bytes]]:
    return [(f"{n:064x}", *pack(np.full(4, n, np.float32))) for n in range(start, start + count)]


def test_a_url_picks_the_store():
    assert [url_scheme(u) for u in ("cache", "/a/b", "C:\\x", "sqlite:x", "s3://b/p", "parquet+file:///x")] == [
        "", "", "", "sqlite", "s3", "parquet+file",
    ]  # fmt: skip


def test_plain_paths_and_sqlite_urls_open_the_cache(tmp_path):
    with open_store(tmp_path / "a", REGISTRY) as plain, open_store(f"sqlite:{tmp_path / 'b'}", REGISTRY) as named:
        assert plain.name == named.name == "sqlite"
        assert plain.location == str(tmp_path / "a" / "features.sqlite")
        plain.put_many(SPACE.name, entries(3))
        assert plain.missing(SPACE.name, [e[0] for e in entries(4)]) == [entries(1, 3)[0][0]]


def test_unknown_schemes_and_params_are_one_clear_error(tmp_path):
    with pytest.raises(MmgenreError, match=r"unknown store scheme 'ftp:'\. Known: .*parquet\+file:.*s3:.*sqlite:"):
        open_store("ftp://host/x", REGISTRY)
    with pytest.raises(MmgenreError, match="unknown param 'endpont_url'.*Did you mean 'endpoint_url'"):
        open_store(f"parquet+file://{tmp_path}/s?endpont_url=x", REGISTRY)


def test_shard_store_round_trip_and_concurrent_objects(tmp_path):
    url = f"parquet+file://{tmp_path / 'shards'}"
    with open_store(url, REGISTRY) as one, open_store(url, REGISTRY) as two:
        one.register(SPACE)
        one.put_many(SPACE.name, entries(5))
        two.put_many(SPACE.name, entries(5, 5))
        keys = [e[0] for e in entries(12)]
        assert one.missing(SPACE.name, keys) == keys[10:]  # the other writer's shard is found when it is needed
        assert one.get_many(SPACE.name, keys[3:7]) == {key: (meta, data) for key, meta, data in entries(4, 3)}
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "shards").iterdir()) == [
        ".mmgenre", "namespaces.json", "store", "store",
    ]  # fmt: skip


def test_damaged_shards_and_rows_are_left_out(tmp_path, caplog):
    url = f"parquet+file://{tmp_path}/shards"
    with open_store(url, REGISTRY) as store:
        store.put_many(SPACE.name, entries(4))
        store.put_many(SPACE.name, entries(4, 4))
    first, second = sorted((tmp_path / "shards").glob("*.parquet"), key=os.path.getmtime)
    first.write_bytes(first.read_bytes()[:-20])  # cut short
    (tmp_path / "shards" / "fifo.parquet").unlink(missing_ok=True)
    os.mkfifo(tmp_path / "shards" / "fifo.parquet")  # not a regular file: refused without blocking
    with open_store(url, REGISTRY) as again:
        keys = [e[0] for e in entries(8)]
        assert again.missing(SPACE.name, keys) == keys[:4]
        assert set(again.get_many(SPACE.name, keys)) == set(keys[4:])
    assert "can't be read" in caplog.text and first.exists() and second.exists()  # left out, never deleted


def test_a_folder_of_someone_else_is_refused_untouched(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(MmgenreError, match="is not empty and was not written by mmgenre"):
        open_store(f"parquet+file://{tmp_path}", REGISTRY)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sqlite", "parquet"])
def test_built_in_stores_pass_the_store_checks(name):
    outcomes = check_component(REGISTRY.get("store", name), strict=True)
    assert {"entries_come_back_unchanged", "a_killed_writer_leaves_whole_batches"} <= set(outcomes)
    assert {"concurrent_writers_lose_nothing", "damaged_files_are_not_returned"} <= set(outcomes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with the bucket `features`; yields its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="features")
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_shards_on_s3(s3):
    url = f"s3://features/round-trip?endpoint_url={s3}"
    with open_store(url, REGISTRY) as store:
        store.register(SPACE)
        store.put_many(SPACE.name, entries(6))
    with open_store(url, REGISTRY) as again:
        keys = [e[0] for e in entries(8)]
        assert again.missing(SPACE.name, keys) == keys[6:]
        assert again.get_many(SPACE.name, keys[:2]) == {key: (meta, data) for key, meta, data in entries(2)}
        assert [space.name for space in again.shards.namespaces()] == [SPACE.name]


@pytest.mark.slow
def test_features_on_dask_into_s3_equal_the_local_run(s3, tmp_path):
    """The issue's acceptance: `features --executor dask --store s3://...` gives the local run's features."""
    data = write_dataset(tmp_path / "posters", poster_rows(10))
    recipe = TEST_RECIPES / "tiny.yaml"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    store = f"s3://features/tiny?endpoint_url={s3}"
    args = ["features", recipe, "--data", data, "--json"]
    local = subprocess.run(  # a new process, as the dask run: same torch threads, so the same float rounding
        [MMGENRE, *map(str, args), "--store", str(tmp_path / "cache")], capture_output=True, text=True, env=env
    )
    assert local.returncode == 0, local.stderr[-3000:]
    remote = subprocess.run(
        [MMGENRE, *map(str, args), "--store", store, "--executor", "dask"], capture_output=True, text=True, env=env
    )
    assert remote.returncode == 0, remote.stderr[-3000:]
    summary = json.loads(remote.stdout)
    assert summary["executor"] == "dask" and summary["with_features"] == 10 and summary["store"].startswith("s3://")
    from mmgenre.features.pipeline import extract_features
    from mmgenre.recipe import load_recipe

    tiny, paths = load_recipe(str(recipe), [], REGISTRY), [POSTERS / r["file"] for r in poster_rows(10)]
    with open_store(tmp_path / "cache", REGISTRY) as mine, open_store(store, REGISTRY) as theirs:
        want, got = (extract_features(tiny, paths, s, progress=False) for s in (mine, theirs))
    assert got.computed == {stage: 0 for stage in got.computed}  # everything came from S3
    assert set(got.arrays) == set(want.arrays)
    for name, array in want.arrays.items():
        assert np.array_equal(got.arrays[name], array), name


class ForgetfulStore(Store):
    """Keeps entries in this object only: a new object on the same place has none (a broken store)."""

    name = "forgetful"

    def __init__(self, params=None) -> None:
        super().__init__(params)
        self.entries: dict = {}

    def register(self, namespace):
        return namespace.name

    def missing(self, namespace, keys):
        return [key for key in dict.fromkeys(keys) if key not in self.entries.get(namespace, {})]

    def get_many(self, namespace, keys):
        mine = self.entries.get(namespace, {})
        return {key: mine[key] for key in keys if key in mine}

    def put_many(self, namespace, items):
        self.entries.setdefault(namespace, {}).update({key: (meta, data) for key, meta, data in items})


def test_the_store_checks_fail_a_store_that_forgets():
    check = dict(checks_for(ForgetfulStore))["entries_come_back_unchanged"]
    with pytest.raises(ConformanceError) as failed:
        check()
    assert "fails the check 'entries_come_back_unchanged'" in str(failed.value)
    assert "a new store object found 0 of the 7 entries stored" in str(failed.value)
