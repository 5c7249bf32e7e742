"""Plugins that fail alone: a plugin that does not import, misbehaves in a hook or takes a name another plugin
has is left out with its reason, and every command still runs. The plugins here are real installed
distributions (a `*.dist-info` with entry points, on the PYTHONPATH of a fresh `python -m mmgenre`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import TEST_RECIPES

from mmgenre.errors import RunError
from mmgenre.training.model_io import load_trained

HEAD = """
from mmgenre.components import FusionHead
from mmgenre.hookspecs import hookimpl


class {cls}(FusionHead):
    \"\"\"A head for the tests.\"\"\"

    name = {name!r}


@hookimpl
def register_fusion_heads(register):
    register({cls})
"""


def install(site: Path, package: str, entry: str, module: str, code: str, version: str = "1.0") -> None:
    """A distribution `package` whose `mmgenre` entry point `entry` imports `module` (written from `code`)."""
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{package.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[mmgenre]\n{entry} = {module}\n")


def mmgenre(site: Path, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "MMGENRE_LOG": "INFO"}
    command = [sys.executable, "-m", "mmgenre", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Four third-party plugins: one that works, one that fails to import, one whose head takes a built-in
    name, one that implements a hook mmgenre does not define; and one that ships a recipe."""
    site = tmp_path_factory.mktemp("site")
    install(site, "mmgenre-good", "good", "mmgenre_good", HEAD.format(cls="GoodHead", name="good-head"), "2.1")
    install(site, "mmgenre-broken", "broken", "mmgenre_broken", "import no_such_module_here\n")
    install(site, "mmgenre-dup", "dup", "mmgenre_dup", HEAD.format(cls="Concat", name="concat"))
    strange = (
        HEAD.format(cls="StrangeHead", name="strange-head")
        + "\n\n@hookimpl\ndef register_widgets(register):\n    pass\n"
    )
    install(site, "mmgenre-strange", "strange", "mmgenre_strange", strange)
    (site / "extra_recipes").mkdir()
    (site / "extra_recipes" / "good-tiny.yaml").write_text(f"extends: {TEST_RECIPES / 'tiny.yaml'}\nname: good-tiny\n")
    recipes = f"""
        from mmgenre.hookspecs import hookimpl


        @hookimpl
        def register_recipes(register):
            register({str(site / "extra_recipes" / "good-tiny.yaml")!r})
        """
    install(site, "mmgenre-recipes", "recipes", "mmgenre_recipes", recipes, "0.3")
    return site


def test_plugins_shows_each_plugin_with_its_status_and_reason(site):
    result = mmgenre(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["good"]["status"] == "ok" and plugins["good"]["version"] == "2.1"
    assert plugins["fusion"]["status"] == "ok"  # the built-in plugin keeps its name
    assert plugins["broken"]["status"] == "failed"
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in plugins["broken"]["reason"]
    assert plugins["dup"]["status"] == "clash"
    assert "fusion head 'concat' is registered by two plugins: 'fusion' and 'dup'" in plugins["dup"]["reason"]
    assert plugins["strange"]["status"] == "failed" and "register_widgets" in plugins["strange"]["reason"]
    table = mmgenre(site, "plugins")
    assert table.returncode == 0
    assert "Left out" in table.stdout and "broken (mmgenre-broken 1.0): import mmgenre_broken failed" in table.stdout


def test_every_command_runs_and_says_once_what_is_left_out(site):
    result = mmgenre(site, "list", "fusion", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["good-head"]["plugin"] == "good" and rows["concat"]["plugin"] == "fusion"
    assert "strange-head" not in rows  # a plugin is left out whole
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING: plugin")]
    assert len(warnings) == 3, result.stderr  # broken, dup, strange: one line each
    assert "UserWarning" not in result.stderr and "Traceback" not in result.stderr
    assert mmgenre(site, "recipe", "validate", TEST_RECIPES / "tiny.yaml").returncode == 0


def test_a_recipe_naming_a_left_out_component_names_the_plugin_and_why(site, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"extends: {TEST_RECIPES / 'tiny.yaml'}\nfusion:\n  name: strange-head\n")
    result = mmgenre(site, "recipe", "validate", recipe)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: unknown fusion head 'strange-head' at fusion.name")
    assert "Installed but left out:" in error and "'strange' (mmgenre-strange 1.0)" in error


def test_plugins_can_ship_recipes_listed_with_their_source(site, tmp_path):
    result = mmgenre(site, "recipe", "list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["good-tiny"]["source"] == "plugin recipes (mmgenre-recipes 0.3)"
    assert rows["paper"]["source"] == "built-in" and rows["paper"]["shadowed_by"] == ""
    assert mmgenre(site, "recipe", "validate", "good-tiny", cwd=tmp_path).returncode == 0
    shown = mmgenre(site, "recipe", "show", "good-tiny", "--resolved", cwd=tmp_path)
    assert shown.returncode == 0 and "name: good-tiny" in shown.stdout
    table = mmgenre(site, "recipe", "list", cwd=tmp_path).stdout
    assert "good-tiny" in table and "plugin recipes (mmgenre-recipes 0.3)" in table


def test_a_local_recipe_shadows_a_plugin_recipe_of_the_same_name(site, tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "good-tiny.yaml").write_text(f"extends: {TEST_RECIPES / 'tiny.yaml'}\nname: mine\n")
    rows = json.loads(mmgenre(site, "recipe", "list", "--json", cwd=tmp_path).stdout)
    found = [(row["source"], row["shadowed_by"]) for row in rows if row["name"] == "good-tiny"]
    assert found == [("./recipes", ""), ("plugin recipes (mmgenre-recipes 0.3)", "./recipes")]


def test_two_packages_with_one_plugin_name_leave_the_second_out(tmp_path):
    install(tmp_path, "mmgenre-first", "twin", "mmgenre_first", HEAD.format(cls="A", name="first-head"))
    install(tmp_path, "mmgenre-second", "twin", "mmgenre_second", HEAD.format(cls="B", name="second-head"))
    plugins = [p for p in json.loads(mmgenre(tmp_path, "plugins", "--json").stdout) if p["name"] == "twin"]
    assert [(p["package"], p["status"]) for p in plugins] == [("mmgenre-first", "ok"), ("mmgenre-second", "clash")]
    assert "mmgenre-first provides a plugin called 'twin' already" in plugins[1]["reason"]


def test_a_run_whose_component_is_missing_names_the_package_to_install(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.yaml").write_text(f"extends: {TEST_RECIPES / 'tiny.yaml'}\nfusion:\n  name: gone-head\n")
    components = {
        "fusion": {"name": "gone-head", "plugin": "gone", "package": "mmgenre-gone", "package_version": "1.2"}
    }
    info = {"labels": ["Drama"], "dims": {"image": 8}, "data": {"name": "folder"}, "components": components}
    (run / "run.json").write_text(json.dumps({**info, "splits": {"train": [], "val": [], "test": []}}))
    with pytest.raises(RunError) as error:
        load_trained(str(run))
    message = str(error.value)
    assert "was trained with the fusion head 'gone-head', which no installed plugin provides" in message
    assert "it came from the package mmgenre-gone 1.2 (plugin 'gone'): pip install 'mmgenre-gone==1.2'" in message
