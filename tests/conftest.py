"""Shared fixtures: real posters from ../shared, a temporary feature cache, a CLI runner."""

from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may wait on a network that isn't there
os.environ.setdefault("MMGENRE_LOG", "WARNING")

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from unit_tier import mark_unit_tests  # noqa: E402

from mmgenre import DEFAULT_GENRES  # noqa: E402
from mmgenre.registry import Registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MMGENRE = str(Path(sys.executable).with_name("mmgenre"))  # the console script of this environment
POSTERS = Path(os.environ.get("MMGENRE_TEST_POSTERS", ROOT.parent / "shared" / "data" / "posters"))
TEST_RECIPES = Path(__file__).parent / "recipes"
REGISTRY = Registry.from_entry_points()  # the tests' own registry of the installed plugins


def poster_rows(count: int, start: int = 0) -> list[dict]:
    """`count` rows of the real poster set whose genres include one of the 13 default genres."""
    if not (POSTERS / "labels.csv").is_file():
        pytest.fail(f"the real posters are missing: expected {POSTERS}/labels.csv (set MMGENRE_TEST_POSTERS)")
    rows = []
    with open(POSTERS / "labels.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if set(row["genres"].split("|")) & set(DEFAULT_GENRES):
                rows.append(row)
    return rows[start : start + count]


def write_dataset(folder: Path, rows: list[dict]) -> Path:
    """A dataset folder whose labels.csv points at the real posters (absolute paths, nothing copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "file": str(POSTERS / row["file"])})
    return folder


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_unit_tests(items)


def pytest_configure(config: pytest.Config) -> None:
    """Under `-m unit` the poster folder is out of reach: a test that needs it fails instead of reading it."""
    global POSTERS
    if re.search(r"(?<!not )\bunit\b", config.getoption("markexpr", "") or ""):
        POSTERS = ROOT / "tests" / "no-posters-in-the-unit-tier"


@pytest.fixture(scope="session")
def posters_dir(tmp_path_factory) -> Path:
    """A 72-poster dataset folder of real posters."""
    return write_dataset(tmp_path_factory.mktemp("posters"), poster_rows(72))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A feature cache shared by the tests of a session (features are computed once)."""
    return tmp_path_factory.mktemp("cache")


def run_cli(*args, **kwargs):
    """Run `mmgenre ARGS` in-process; returns click's Result (exit_code, stdout, stderr)."""
    from mmgenre.cli.main import cli as group

    return CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False, **kwargs)


def train_cli(recipe, data_dir, cache_dir, out, *settings: str):
    """`mmgenre train RECIPE --data DATA --cache-dir CACHE --out OUT [--set S]... --json`, in-process."""
    sets = [arg for setting in settings for arg in ("--set", setting)]
    return run_cli("train", recipe, "--data", data_dir, "--cache-dir", cache_dir, "--out", out, *sets, "--json")


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def tiny_recipe() -> Path:
    return TEST_RECIPES / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny_run(posters_dir, session_cache, tiny_recipe, tmp_path_factory) -> tuple[Path, dict]:
    """A run of the tiny recipe on the 72 real posters: (run folder, the metrics `train --json` printed)."""
    import json

    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = train_cli(tiny_recipe, posters_dir, session_cache, out)
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)
