"""The Ray executor on a local Ray (one instance for the session) and a two-node cluster, on real posters:
the same entries as the local executor, failures that keep finished work, a killed run that resumes."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import MMGENRE, POSTERS, REGISTRY, TEST_RECIPES, poster_rows, write_dataset

ray = pytest.importorskip("ray")

from mmgenre_rapidocr.engine import RapidOcr  # noqa: E402

from mmgenre.data.skips import SkipLog  # noqa: E402
from mmgenre.features import progress  # noqa: E402
from mmgenre.features.cache import FeatureCache  # noqa: E402
from mmgenre.features.codec import unpack  # noqa: E402
from mmgenre.features.pipeline import extract_features, image_options, recipe_settings  # noqa: E402
from mmgenre.features.plan import plan_features  # noqa: E402
from mmgenre.features.ray_connect import probe_cluster  # noqa: E402
from mmgenre.features.ray_executor import RayExecutor, RayOptions  # noqa: E402
from mmgenre.features.shards import finished_shards  # noqa: E402
from mmgenre.recipe import load_recipe  # noqa: E402

TINY = TEST_RECIPES / "tiny.yaml"
N = 12  # posters: one image batch of the tiny recipe, all texts in one text batch
RAY_INIT = {"num_cpus": 2, "object_store_memory": 200 * 2**20, "include_dashboard": False}


def local_ray() -> str:
    """The session's local Ray (started again if a test shut it down); returns its address."""
    ray.init(**RAY_INIT, ignore_reinit_error=True)
    return ray.get_runtime_context().gcs_address


@pytest.fixture(scope="session")
def ray_session():
    address = local_ray()
    yield address
    ray.shutdown()


@pytest.fixture
def ray_local(ray_session) -> str:
    return local_ray()


def tiny():
    return load_recipe(str(TINY), [], REGISTRY)


def paths(count: int = N) -> list[Path]:
    return [POSTERS / row["file"] for row in poster_rows(count)]


def entries(cache: FeatureCache) -> dict[str, dict[str, tuple[dict, bytes]]]:
    """Every entry of a cache, by namespace and key."""
    return {ns.name: {k: (m, d) for chunk in cache.entries(ns.name) for k, m, d in chunk} for ns in cache.namespaces()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The local executor's entries for the first N posters."""
    folder = tmp_path_factory.mktemp("local-cache")
    with FeatureCache(folder) as cache:
        features = extract_features(tiny(), paths(), cache, progress=False)
        assert len(features) == N
        return entries(cache)


def assert_same_entries(got: dict, want: dict, text_tolerance: bool = False) -> None:
    """The same namespaces and keys; identical meta and bytes (texts embedded in other batches: within float16
    rounding, since padding to the longest text of a batch changes the last bit)."""
    assert set(got) == set(want)
    for namespace, by_key in want.items():
        assert set(got[namespace]) == set(by_key), namespace
        for key, (meta, data) in by_key.items():
            if text_tolerance and namespace.startswith("text_encoder/"):
                assert got[namespace][key][0] == meta
                np.testing.assert_allclose(unpack(*got[namespace][key]), unpack(meta, data), atol=2e-3)
            else:
                assert got[namespace][key] == (meta, data), f"{namespace} {key}"


@contextmanager
def mmgenre_log_lines():
    """INFO lines of the `mmgenre` logger while inside."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("mmgenre")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.slow  # more than 5 s here (kept out of `-m unit`)
def test_a_real_ray_head_passes_the_connect_probe(ray_session):
    """The bounded pre-check before ray.init (tests/test_network.py: what it refuses) lets a real GCS through."""
    probe_cluster(ray_session, 5.0)  # raises MmgenreError when it gets no gRPC greeting


def test_ray_gives_the_local_executors_entries(ray_local, reference, tmp_path, monkeypatch):
    recipe = tiny()
    executor = RayExecutor(recipe_settings(recipe))
    monkeypatch.setattr(progress.Progress.__init__, "__defaults__", (None, "poster", 0.0))  # a line per update
    with FeatureCache(tmp_path) as cache, mmgenre_log_lines() as lines:
        features = extract_features(recipe, paths(), cache, executor=executor, progress=None)
        got = entries(cache)
    assert len(features) == N and features.computed == {"image_encoder": N, "ocr": N, "text_encoder": N}
    assert_same_entries(got, reference)
    done = {stage: sum(r.items for r in executor.reports if r.stage == stage) for stage in features.computed}
    assert done == {"image_encoder": N, "ocr": N, "text_encoder": N}
    assert any(line.startswith(f"OCR (rapidocr): {N:,}/{N:,} posters") for line in lines), lines
    assert any(line.startswith("image encoder (efficientnet-lite): ") for line in lines), lines


class FlakyOcr(RapidOcr):
    """RapidOCR that raises on one poster and kills its worker process on another (the first time only)."""

    fails_on: tuple[int, int] = (0, 0)  # image size
    dies_on: tuple[int, int] = (0, 0)
    died_marker = ""

    def read(self, image):
        if image.size == self.fails_on:
            raise RuntimeError("engine broke on this poster")
        if image.size == self.dies_on and not Path(self.died_marker).exists():
            Path(self.died_marker).touch()
            import os

            os._exit(1)
        return super().read(image)


def distinct_sizes(candidates: list[Path], count: int) -> list[Path]:
    """Posters whose image sizes differ from each other's (the flaky engine picks its victims by size)."""
    from PIL import Image

    chosen, sizes = [], set()
    for path in candidates:
        with Image.open(path) as image:
            if image.size not in sizes:
                sizes.add(image.size)
                chosen.append(path)
        if len(chosen) == count:
            return chosen
    raise AssertionError("not enough posters of distinct sizes")


def test_failures_keep_finished_work(ray_local, tmp_path):
    """A vanished file, an engine that raises on one poster, a worker that dies: the job completes."""
    import ray.cloudpickle
    from PIL import Image

    folder = tmp_path / "posters"
    folder.mkdir()
    posters = [Path(shutil.copy(p, folder)) for p in distinct_sizes(paths(40), 6)]
    vanished, failing, dying = posters[:3]
    with Image.open(failing) as one, Image.open(dying) as other:
        FlakyOcr.fails_on, FlakyOcr.dies_on = one.size, other.size
    FlakyOcr.died_marker = str(tmp_path / "died")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import this test module
    recipe, skips = tiny(), SkipLog()
    settings = recipe_settings(recipe)
    with FeatureCache(tmp_path / "cache") as cache:
        plan = plan_features(recipe, posters, cache, settings, image_options(recipe), skips)
        plan.ocr = FlakyOcr(plan.ocr.params)
        vanished.unlink()
        computed = RayExecutor(settings, options=RayOptions(ocr_batch=2)).execute(plan, cache, skips, False)
        got = entries(cache)
    assert (tmp_path / "died").exists()  # a worker died mid-batch: Ray restarted it and the batch ran again
    reasons = {(Path(s.where).name, s.category) for s in skips.skips}
    assert reasons == {(vanished.name, "missing file"), (failing.name, "OCR failed")}
    keys = {p.name: s.key for p, s in zip(posters, plan.sources)}
    ocr = got[plan.spaces.ocr.name]
    texts = {meta["text"] for meta, _ in ocr.values()}
    assert computed == {"image_encoder": 6, "ocr": 6, "text_encoder": len(texts)}
    assert set(ocr) == {keys[p.name] for p in posters[2:]}  # the dying poster was read after the restart
    assert set(got[plan.spaces.image.name]) == {keys[p.name] for p in posters[1:]}
    assert len(got[plan.spaces.text.name]) == len(texts)


@pytest.mark.slow
def test_killed_run_resumes_from_its_shards(ray_local, reference, tmp_path, cli):
    """Kill the driver of `mmgenre features --executor ray` once it has written a shard; the same command
    resumes from the shards and ends with the local executor's entries."""
    data = write_dataset(tmp_path / "data", poster_rows(N))
    shards, cache_dir = tmp_path / "shards", tmp_path / "cache"
    args = ["features", TINY, "--data", data, "--cache-dir", cache_dir, "--executor", "ray", "--shards", shards]
    args += ["--ray-ocr-batch", "2", "--json"]
    with open(tmp_path / "driver.log", "wb") as log:
        driver = subprocess.Popen([MMGENRE, *map(str, args), "--ray-address", ray_local], stderr=log, stdout=log)
        deadline = time.monotonic() + 180
        while not list(shards.glob("ocr-*.parquet")):
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()
            assert time.monotonic() < deadline, "no shard after 3 minutes"
            time.sleep(0.05)
        driver.kill()
        driver.wait()
    kept = finished_shards(shards)
    assert kept and not any(p.name.startswith(".") for p in kept)
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["with_features"] == N and summary["shards"] == str(shards.resolve())
    assert summary["computed"]["ocr"] < N  # the killed run's shards were not computed again
    with FeatureCache(cache_dir) as cache:
        assert_same_entries(entries(cache), reference, text_tolerance=True)


@pytest.mark.slow
def test_two_node_cluster_with_a_logical_gpu(reference, tmp_path):
    """OCR on both nodes (a resource tag puts one OCR actor on each); the encoders on the node with a logical
    GPU, falling back to the CPU since torch sees no CUDA here; the same entries as the local executor."""
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the session's single-node Ray; the next test that needs it starts it again
    node = {"num_cpus": 1, "object_store_memory": 100 * 2**20, "resources": {"poster_node": 1}}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "num_gpus": 1, "include_dashboard": False})
    cluster.add_node(**node)
    try:
        ray.init(address=cluster.address)
        recipe = tiny()
        options = RayOptions(ocr_batch=1, ocr_resources={"poster_node": 1})  # many small batches: both actors get some
        executor = RayExecutor(recipe_settings(recipe), options=options)
        with FeatureCache(tmp_path) as cache:
            features = extract_features(recipe, paths(), cache, executor=executor, progress=False)
            got = entries(cache)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(features) == N
    assert_same_entries(got, reference, text_tolerance=True)  # one poster per OCR batch: texts arrive in 2 batches
    ocr_nodes = {r.node for r in executor.reports if r.stage == "ocr"}
    assert len(ocr_nodes) == 2
    encoders = [r for r in executor.reports if r.stage in ("image_encoder", "text_encoder")]
    assert encoders and all(r.gpus and r.device == "cpu" for r in encoders)
