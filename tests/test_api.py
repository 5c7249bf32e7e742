"""The public plugin API (mmgenre.api), the import contracts that keep plugins to it, and renamed components."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pluggy
import pytest

import mmgenre.api
from mmgenre import hookspecs
from mmgenre.components import FusionHead, Loss
from mmgenre.errors import RegistryError
from mmgenre.registry import ComponentRenamedWarning, Registry

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())
TEMPLATES = ROOT / "mmgenre" / "scaffold" / "templates"
PUBLIC = {"mmgenre.api", "mmgenre.testing"}


def mmgenre_imports(source: str) -> list[str]:
    """The mmgenre modules a module's source imports (anywhere in it, lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return [name for name in found if name == "mmgenre" or name.startswith("mmgenre.")]


def template_source(path: Path) -> str:
    """A template as Python: `${Class}` and friends become plain names."""
    return re.sub(r"\$\{(\w+)\}", r"\1", path.read_text())


def test_every_name_in_all_exists_and_is_listed_once():
    names = mmgenre.api.__all__
    assert len(names) == len(set(names))
    assert [name for name in names if not hasattr(mmgenre.api, name)] == []
    assert {"hookimpl", "Params", "OcrEngine", "FusionHead", "SkipLog", "upscale", "PosterDataset"} <= set(names)
    assert mmgenre.api.hookimpl is hookspecs.hookimpl


def test_an_old_api_name_gives_the_new_object_with_a_deprecation_warning(monkeypatch):
    monkeypatch.setitem(mmgenre.api._RENAMED, "OcrOutput", "OcrResult")
    with pytest.warns(DeprecationWarning, match=r"mmgenre.api.OcrOutput is now mmgenre.api.OcrResult"):
        assert mmgenre.api.OcrOutput is mmgenre.api.OcrResult
    with pytest.raises(AttributeError, match="no attribute 'OcrEngin'"):
        mmgenre.api.OcrEngin  # noqa: B018


def test_importing_the_api_imports_no_heavy_library():
    heavy = "('torch', 'open_clip', 'transformers', 'rapidocr_onnxruntime')"
    code = f"import sys, mmgenre.api; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_import_check_sees_internal_imports():
    source = "import os\nfrom mmgenre.api import Params\ndef f():\n    from mmgenre.data.images import upscale\n"
    assert mmgenre_imports(source) == ["mmgenre.api", "mmgenre.data.images"]
    assert mmgenre_imports("import mmgenre.registry as r\nfrom mmgenre import DEFAULT_GENRES") == [
        "mmgenre.registry",
        "mmgenre",
    ]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_built_in_plugins_import_only_the_public_api(plugin):
    offenders = {
        str(path.relative_to(ROOT)): sorted(set(mmgenre_imports(path.read_text())) - PUBLIC)
        for path in sorted((ROOT / "plugins" / plugin).rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_example_third_party_plugin_imports_only_the_public_api():
    sources = sorted((ROOT / "tests" / "plugin_example").rglob("*.py"))
    assert sources
    assert {str(p.relative_to(ROOT)): sorted(set(mmgenre_imports(p.read_text())) - PUBLIC) for p in sources} == {
        str(p.relative_to(ROOT)): [] for p in sources
    }


def test_scaffold_templates_import_only_the_public_api():
    templates = sorted(TEMPLATES.rglob("*.py.tmpl"))
    assert len(templates) >= 10
    offenders = {
        str(path.relative_to(TEMPLATES)): sorted(set(mmgenre_imports(template_source(path))) - PUBLIC)
        for path in templates
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_import_contracts_pass():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-logo", "--no-cache", ".importlinter"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout)


def _config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith(";")]


def test_contracts_cover_every_plugin_and_module():
    config = _config()
    assert set(_lines(config["importlinter"]["root_packages"])) == {"mmgenre", *PLUGINS}
    assert _lines(config["importlinter:contract:plugins-use-the-api"]["source_modules"]) == PLUGINS
    assert _lines(config["importlinter:contract:plugins-independent"]["modules"]) == PLUGINS
    top = {p.stem for p in (ROOT / "mmgenre").iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    plugin_contract = config["importlinter:contract:plugins-use-the-api"]
    forbidden = {module.removeprefix("mmgenre.") for module in _lines(plugin_contract["forbidden_modules"])}
    assert forbidden == top - {"__init__", "__main__", "api", "testing"}
    layers = _lines(config["importlinter:contract:layers"]["layers"])
    layered = {module.strip() for layer in layers for module in re.split("[|:]", layer)}
    for package in ("data", "evaluation"):  # split across layers module by module
        modules = {f"{package}.{p.stem}" for p in (ROOT / "mmgenre" / package).glob("*.py") if p.stem != "__init__"}
        assert modules <= layered, modules - layered


def _manager(*plugins: tuple[str, object]) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("mmgenre")
    manager.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        manager.register(plugin, name=name)
    return manager


def _registering_losses(*losses: type[Loss]) -> object:
    class Plugin:
        @hookspecs.hookimpl
        def register_losses(self, register):
            for loss in losses:
                register(loss)

    return Plugin()


class RenamedLoss(Loss):
    """A loss once called 'old-loss' (and 'older-loss' before that)."""

    name = "new-loss"
    aliases = ("old-loss", "older-loss")

    def build(self, positive_rate):  # pragma: no cover (never built here)
        raise NotImplementedError


def test_an_old_name_finds_the_renamed_component_with_a_warning_naming_the_new_one():
    registry = Registry(_manager(("renamer", _registering_losses(RenamedLoss))), [])
    message = r"loss 'old-loss' at loss.name \(r.yaml\) is now called 'new-loss'"
    with pytest.warns(ComponentRenamedWarning, match=message):
        component = registry.create("loss", "old-loss", key="loss", source="r.yaml")
    assert type(component) is RenamedLoss and component.name == "new-loss"
    assert registry.names("loss") == ["new-loss"]  # lists and choices show the new name only
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name never warns
        assert registry.get("loss", "new-loss") is RenamedLoss
    assert issubclass(ComponentRenamedWarning, FutureWarning)  # shown to users by default


def test_a_recipe_naming_an_old_name_resolves_to_the_renamed_component_warning_once():
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import load_plugins

    manager, plugins = load_plugins()
    manager.register(_registering_losses(RenamedLoss), name="renamer")
    registry = Registry(manager, plugins)
    with pytest.warns(ComponentRenamedWarning) as caught:
        recipe = load_recipe("paper-offline", ["loss.name=old-loss"], registry=registry)
    assert [str(w.message) for w in caught if w.category is ComponentRenamedWarning] == [
        "loss 'old-loss' at loss.name (--set loss.name=old-loss) is now called 'new-loss': "
        "use the new name, the old one will stop working in a future release"
    ]
    assert isinstance(recipe.loss, RenamedLoss)
    assert recipe.provenance["loss"]["name"] == "new-loss"


RENAMED_IN_A_SCRIPT = """
import pluggy
from mmgenre import hookspecs
from mmgenre.api import Loss, hookimpl
from mmgenre.registry import Registry

class Renamed(Loss):
    name, aliases = "new-loss", ("older-loss",)
    def build(self, positive_rate): ...

class Plugin:
    @hookimpl
    def register_losses(self, register):
        register(Renamed)

manager = pluggy.PluginManager("mmgenre")
manager.add_hookspecs(hookspecs)
manager.register(Plugin(), name="renamer")
print(Registry(manager, []).get("loss", "older-loss").name)
"""


def test_the_rename_warning_is_shown_by_default():
    result = subprocess.run([sys.executable, "-c", RENAMED_IN_A_SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "new-loss"
    assert "ComponentRenamedWarning: loss 'older-loss' is now called 'new-loss'" in result.stderr


class Squatter(FusionHead):
    """A head whose alias is another head's name."""

    name = "squatter"
    aliases = ("concat",)


def test_an_alias_cannot_take_another_components_name():
    from mmgenre_fusion.components import ConcatHead

    manager = _manager(("fusion", _plugin_registering_head(ConcatHead)), ("squat", _plugin_registering_head(Squatter)))
    try:
        registry = Registry(manager, [])
    except RegistryError as error:  # a registry that stops at a bad plugin
        reason = str(error)
    else:  # or one that leaves the plugin out, with its reason
        (squat,) = [p for p in registry.plugins if p.name == "squat"]
        assert not squat.loaded
        reason = squat.reason
        assert registry.get("fusion", "concat") is ConcatHead
    assert "alias 'concat' of 'squatter'" in reason and "taken by 'concat'" in reason


def _plugin_registering_head(head: type[FusionHead]) -> object:
    class Plugin:
        @hookspecs.hookimpl
        def register_fusion_heads(self, register):
            register(head)

    return Plugin()
