"""Executors as plugins: chosen with --executor NAME (--executor-opt KEY=VALUE) on every command that computes
features, listed like other components, and checked by mmgenre.testing: the Dask executor (on a LocalCluster)
gives the local executor's entries bit for bit and resumes a stopped run."""

from __future__ import annotations

import json

import pytest
from conftest import REGISTRY, TEST_RECIPES, poster_rows, run_cli, write_dataset
from mmgenre_executors.components import LocalExecutorComponent

from mmgenre.testing import ConformanceError, check_component

TINY = TEST_RECIPES / "tiny.yaml"


def test_executors_and_stores_are_listed_with_their_plugins():
    listed = json.loads(run_cli("list", "--json").stdout)
    kinds = {(row["kind"], row["name"]): row["plugin"] for row in listed}
    assert {kinds[("executor", n)] for n in ("local", "ray", "dask")} == {"executors"}
    assert {kinds[("store", n)] for n in ("sqlite", "parquet")} == {"stores"}
    plugins = {p["name"]: p["hooks"] for p in json.loads(run_cli("plugins", "--json").stdout)}
    assert plugins["executors"] == ["register_executors"] and plugins["stores"] == ["register_feature_stores"]


@pytest.mark.parametrize("command", ["features", "train", "eval", "predict", "ablate", "serve"])
def test_every_feature_command_takes_executor_and_store(command):
    text = run_cli(command, "--help").stdout
    assert "--executor NAME" in text and "--executor-opt KEY=VALUE" in text and "--store, --cache-dir URL" in text


def test_an_unknown_executor_or_param_is_one_error_line(tmp_path):
    unknown = run_cli("features", TINY, "--data", tmp_path, "--executor", "dsak")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().splitlines() == [
        "Error: unknown executor 'dsak' at --executor. Did you mean 'dask'? Available: dask, local, ray"
    ]
    bad = run_cli("features", TINY, "--data", tmp_path, "--executor", "dask", "--executor-opt", "wrokers=2")
    assert bad.exit_code == 1 and "unknown param 'wrokers'" in bad.stderr and "Did you mean 'workers'" in bad.stderr
    shape = run_cli("features", TINY, "--data", tmp_path, "--executor-opt", "workers")
    assert shape.exit_code == 2 and "expected KEY=VALUE" in shape.stderr


def test_ray_options_still_need_the_ray_executor(tmp_path):
    result = run_cli("features", TINY, "--data", tmp_path, "--executor", "dask", "--ray-address", "h:1")
    assert result.exit_code == 2 and "--ray-address only apply with --executor ray" in result.stderr


@pytest.mark.slow
def test_the_local_executor_passes_the_executor_checks():
    outcomes = check_component(REGISTRY.get("executor", "local"), strict=True)
    assert outcomes["same_entries_as_local"] == outcomes["resumes_after_a_stop"] == "passed"


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True])
def test_dask_passes_the_executor_checks(processes):
    outcomes = check_component(REGISTRY.get("executor", "dask"), {"processes": processes}, strict=True)
    assert outcomes["same_entries_as_local"] == outcomes["resumes_after_a_stop"] == "passed"


@pytest.mark.slow
def test_train_computes_its_features_on_dask(tmp_path):
    data = write_dataset(tmp_path / "posters", poster_rows(24))
    store = f"parquet+file://{tmp_path / 'shards'}"
    args = ["--data", data, "--store", store, "--executor", "dask", "--json"]
    trained = run_cli("train", TINY, *args, "--out", tmp_path / "run", "--set", "train.max_epochs=1")
    assert trained.exit_code == 0, trained.stderr
    again = run_cli("features", TINY, *args)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["computed"] == {"image_encoder": 0, "ocr": 0, "text_encoder": 0}


class LosesLastBatch(LocalExecutorComponent):
    """The local executor, but the last batch written to the store is lost (a broken executor)."""

    name = "loses-last-batch"

    def execute(self, plan, store, skips, progress=None):
        writes: list = []

        class Holding:
            def __getattr__(self, name):
                return getattr(store, name)

            def put_many(self, namespace, items):
                writes.append((namespace, list(items)))

        computed = super().execute(plan, Holding(), skips, progress)
        for namespace, items in writes[:-1]:
            store.put_many(namespace, items)
        return computed


@pytest.mark.slow
def test_the_executor_checks_fail_an_executor_that_loses_work():
    with pytest.raises(ConformanceError) as failed:
        check_component(LosesLastBatch)
    assert "fails the check 'same_entries_as_local'" in str(failed.value)
    assert "entries, the local executor's" in str(failed.value)
