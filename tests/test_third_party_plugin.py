"""A third-party plugin package, installed with pip, shows up and works through its entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MMGENRE

EXAMPLE = Path(__file__).parent / "plugin_example"


def mmgenre(*args: str) -> subprocess.CompletedProcess:
    """Run the installed console script in a fresh process, so entry points are read anew."""
    return subprocess.run([MMGENRE, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    source = tmp_path_factory.mktemp("plugin") / "plugin_example"
    shutil.copytree(EXAMPLE, source)  # build outside the repository
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)]
    subprocess.run(pip, check=True, capture_output=True)
    yield
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "mmgenre-linear-probe"], check=True)


@pytest.mark.slow
def test_installed_plugin_is_listed_with_its_version(installed_plugin):
    plugins = {p["name"]: p for p in json.loads(mmgenre("plugins", "--json").stdout)}
    assert plugins["linear-probe"] == {
        "name": "linear-probe",
        "package": "mmgenre-linear-probe",
        "version": "0.2.0",
        "hooks": ["register_fusion_heads"],
        "status": "ok",
        "reason": "",
        "module": "mmgenre_linear_probe",
    }
    listed = {row["name"]: row for row in json.loads(mmgenre("list", "fusion", "--json").stdout)}
    assert listed["linear-probe"]["plugin"] == "linear-probe" and listed["linear-probe"]["available"]


@pytest.mark.slow
def test_installed_plugin_is_usable_from_a_recipe(installed_plugin, posters_dir, session_cache, tiny_recipe, tmp_path):
    recipe = tmp_path / "probe.yaml"
    recipe.write_text(
        f"extends: {tiny_recipe}\nname: probe\nfusion:\n  name: linear-probe\n  params: {{normalise: true}}\n"
    )
    assert mmgenre("recipe", "validate", recipe).returncode == 0
    result = mmgenre(
        "train", recipe, "--data", posters_dir, "--cache-dir", session_cache, "--out", tmp_path / "run", "--json"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["val"]["posters"] > 0 and 0 <= metrics["val"]["macro_f1"] <= 1
    assert "linear-probe" in (tmp_path / "run" / "recipe.yaml").read_text()


@pytest.mark.slow
def test_a_plugin_reusing_a_taken_name_is_left_out_naming_both(tmp_path):
    package = tmp_path / "dup"
    (package / "mmgenre_dup").mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mmgenre-dup"\nversion = "1.0"\n'
        '[project.entry-points.mmgenre]\ndup = "mmgenre_dup"\n[tool.setuptools]\npackages = ["mmgenre_dup"]\n'
    )
    (package / "mmgenre_dup" / "__init__.py").write_text(
        "from mmgenre.components import FusionHead\nfrom mmgenre.hookspecs import hookimpl\n\n\n"
        "class Concat(FusionHead):\n    name = 'concat'\n\n\n"
        "@hookimpl\ndef register_fusion_heads(register):\n    register(Concat)\n"
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(package)],
        check=True,
        capture_output=True,
    )
    try:
        result = mmgenre("list", "fusion", "--json")
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "mmgenre-dup"], check=True)
    assert result.returncode == 0  # the built-in plugin keeps the name; the clashing one is left out alone
    assert {row["name"]: row["plugin"] for row in json.loads(result.stdout)}["concat"] == "fusion"
    assert "fusion head 'concat' is registered by two plugins: 'fusion' and 'dup'" in result.stderr
