"""The plugin registry: entry points, duplicate names, unknown names, bad params, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pluggy
import pytest
from conftest import REGISTRY

from mmgenre import hookspecs
from mmgenre.components import FusionHead
from mmgenre.errors import RecipeError, UnknownComponentError
from mmgenre.registry import PluginInfo, Registry

BUILT_IN = {
    "ocr": {"tesseract", "rapidocr", "easyocr", "gemini"},
    "image_encoder": {"open-clip", "hf-clip", "efficientnet-lite"},
    "text_encoder": {"open-clip", "hf-clip", "minilm"},
    "fusion": {"cross-attn-smsam", "concat", "late", "image-only", "text-only", "zero-shot-clip"},
    "loss": {"asl", "bce", "focal"},
}


def test_built_in_components_come_through_entry_points():
    registry = REGISTRY
    for kind, names in BUILT_IN.items():
        assert names <= set(registry.names(kind)), kind
    plugins = {p.name: p for p in registry.plugins}
    assert plugins["tesseract"].package == "mmgenre"
    assert plugins["fusion"].hooks == ["register_fusion_heads"]


def test_list_shows_components_with_their_plugin(cli):
    result = cli("list", "fusion", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["cross-attn-smsam"]["plugin"] == "fusion"
    assert rows["cross-attn-smsam"]["available"] is True
    assert set(rows) >= BUILT_IN["fusion"]


def test_list_encoders_shows_image_and_text_encoders(cli):
    result = cli("list", "encoders")
    assert result.exit_code == 0
    for name in ("open-clip", "hf-clip", "efficientnet-lite", "minilm"):
        assert name in result.stdout
    assert "image_encoder" in result.stdout and "text_encoder" in result.stdout


def test_plugins_command_lists_versions_and_hooks(cli):
    result = cli("plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["offline-encoders"]["hooks"] == ["register_image_encoders", "register_text_encoders"]
    assert plugins["losses"]["version"]


def _manager(*plugins) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("mmgenre")
    manager.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        manager.register(plugin, name=name)
    return manager


def _plugin_registering(head):
    class Plugin:
        @hookspecs.hookimpl
        def register_fusion_heads(self, register):
            register(head)

    return Plugin()


class Duplicate(FusionHead):
    """A head whose name is already taken."""

    name = "concat"


class Extra(FusionHead):
    """A head with a free name, registered before the clash."""

    name = "extra-head"


def test_a_plugin_taking_a_name_is_left_out_whole_naming_both_plugins():
    from mmgenre_fusion.components import ConcatHead

    class Clashing:
        @hookspecs.hookimpl
        def register_fusion_heads(self, register):
            register(Extra)
            register(Duplicate)

    manager = _manager(("fusion", _plugin_registering(ConcatHead)), ("my-plugin", Clashing()))
    plugins = [PluginInfo("fusion", "mmgenre", "0"), PluginInfo("my-plugin", "x", "1")]
    registry = Registry(manager, plugins)
    assert registry.get("fusion", "concat") is ConcatHead
    assert registry.names("fusion") == ["concat"]  # extra-head, registered before the clash, is undone
    assert [(p.name, p.status) for p in registry.plugins] == [("fusion", "ok"), ("my-plugin", "clash")]
    assert "fusion head 'concat' is registered by two plugins: 'fusion' and 'my-plugin'" in plugins[1].reason
    assert plugins[1].hooks == ["register_fusion_heads"]


def test_registering_a_non_component_leaves_the_plugin_out():
    manager = _manager(("bad", _plugin_registering(dict)), ("good", _plugin_registering(Extra)))
    registry = Registry(manager, [])
    status = {p.name: (p.status, p.reason) for p in registry.plugins}
    assert status["good"] == ("ok", "")
    assert status["bad"][0] == "failed" and "not a subclass of FusionHead" in status["bad"][1]
    assert registry.names("fusion") == ["extra-head"]


def test_a_hook_that_raises_leaves_its_plugin_out_and_unknown_names_say_so():
    class Raising:
        @hookspecs.hookimpl
        def register_losses(self, register):
            raise OSError("weights not found")

    registry = Registry(_manager(("raising", Raising())), [])
    assert registry.plugins[0].status == "failed"
    assert registry.plugins[0].reason == "register_losses failed: OSError: weights not found"
    with pytest.raises(UnknownComponentError, match="Installed but left out: 'raising' .*weights not found"):
        registry.get("loss", "asl")


def test_unknown_name_says_where_what_is_close_and_what_exists():
    with pytest.raises(UnknownComponentError) as error:
        REGISTRY.get("fusion", "cross-atn-smsam", "fusion.name (recipes/paper.yaml)")
    message = str(error.value)
    assert message.startswith("unknown fusion head 'cross-atn-smsam' at fusion.name (recipes/paper.yaml).")
    assert "Did you mean 'cross-attn-smsam'?" in message
    assert "Available: concat, cross-attn-smsam, image-only, late, text-only, zero-shot-clip" in message


def test_bad_params_name_the_key_and_accepted_params():
    with pytest.raises(RecipeError) as error:
        REGISTRY.create("fusion", "cross-attn-smsam", {"hedas": 4}, key="fusion", source="r.yaml")
    message = str(error.value)
    assert "unknown param 'hedas' at fusion.params.hedas" in message
    assert "Did you mean 'heads'?" in message
    with pytest.raises(RecipeError, match="bad value at loss.params.gamma_neg"):
        REGISTRY.create("loss", "asl", {"gamma_neg": "lots"}, key="loss", source="r.yaml")


def test_help_and_list_do_not_import_heavy_libraries():
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from mmgenre.cli.main import cli
        for args in (["--help"], ["list"], ["plugins"], ["recipe", "validate", "paper"]):
            assert CliRunner().invoke(cli, args).exit_code == 0, args
        heavy = ["torch", "open_clip", "pytesseract", "google.genai", "transformers", "timm",
                 "rapidocr_onnxruntime", "easyocr", "sklearn", "sentence_transformers"]
        print(",".join(m for m in heavy if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
