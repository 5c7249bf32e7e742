"""Recipes: two-pass validation, overrides, extends, and the error messages users see."""

from __future__ import annotations

import json

import pytest
import yaml

from mmgenre import DEFAULT_GENRES
from mmgenre.errors import RecipeError, UnknownComponentError
from mmgenre.recipe import load_recipe


def test_paper_recipe_is_the_default_and_describes_the_paper():
    recipe = load_recipe(None)
    assert recipe.spec.name == "paper"
    assert (recipe.ocr.name, recipe.image_encoder.name, recipe.text_encoder.name) == (
        "gemini",
        "open-clip",
        "open-clip",
    )
    assert recipe.image_encoder.params.model == "ViT-B-32" and recipe.image_encoder.params.pretrained == "openai"
    assert recipe.fusion.name == "cross-attn-smsam" and recipe.loss.name == "asl"
    assert recipe.loss.params.gamma_pos != recipe.loss.params.gamma_neg
    train = recipe.spec.train
    assert (train.optimizer, train.lr, train.betas, train.max_epochs) == ("adam", 1e-4, (0.9, 0.999), 100)
    assert recipe.labels == list(DEFAULT_GENRES)


def test_paper_offline_keeps_the_model_and_swaps_the_parts():
    paper, offline = load_recipe("paper"), load_recipe("paper-offline")
    assert offline.fusion.params == paper.fusion.params and offline.loss.params == paper.loss.params
    assert offline.spec.train == paper.spec.train
    assert (offline.ocr.name, offline.image_encoder.name, offline.text_encoder.name) == (
        "rapidocr",
        "efficientnet-lite",
        "minilm",
    )
    assert offline.image_encoder.params.variant == "lite2"


def test_resolved_recipe_round_trips(cli):
    result = cli("recipe", "show", "paper-offline", "--resolved")
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    assert data["fusion"]["params"]["heads"] == 8 and data["ocr"] == {
        "name": "rapidocr",
        "params": data["ocr"]["params"],
    }
    assert "extends" not in data
    assert data["image_encoder"]["params"]["normalisation"] == "tf"  # defaults are filled in


def test_set_overrides_values_and_parses_yaml_types():
    recipe = load_recipe("paper-offline", ["train.lr=3e-4", "fusion.params.heads=4", "data.split.seed=7"])
    assert recipe.spec.train.lr == 3e-4 and recipe.fusion.params.heads == 4 and recipe.spec.data.split.seed == 7


def test_changing_a_component_name_drops_the_old_params():
    recipe = load_recipe("paper-offline", ["fusion.name=concat", "fusion.params.hidden=128"])
    assert recipe.fusion.name == "concat" and recipe.fusion.params.hidden == 128


def test_unknown_override_key_is_rejected_with_a_suggestion():
    with pytest.raises(RecipeError) as error:
        load_recipe("paper-offline", ["train.lrr=1"])
    message = str(error.value)
    assert "unknown key 'train.lrr' (--set train.lrr=1)" in message and "Did you mean 'lr'?" in message


def test_unknown_param_from_set_is_rejected():
    with pytest.raises(
        RecipeError, match=r"unknown param 'hedas' at fusion.params.hedas .*--set fusion.params.hedas=2"
    ):
        load_recipe("paper-offline", ["fusion.params.hedas=2"])


def test_misspelled_component_in_a_file_names_file_key_and_choices(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: paper-offline\nfusion:\n  name: cross-atn-smsam\n")
    with pytest.raises(UnknownComponentError) as error:
        load_recipe(str(path))
    message = str(error.value)
    assert f"at fusion.name ({path})" in message
    assert "Did you mean 'cross-attn-smsam'?" in message and "Available: concat," in message


def test_cli_reports_recipe_errors_with_exit_1_and_no_traceback(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: paper\nloss: {name: aslx}\n")
    result = cli("recipe", "validate", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown loss 'aslx' at loss.name")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fusion: [1, 2\n", "is not valid YAML"),
        ("- a list\n", "must hold a mapping"),
        ("fusion: {name: concat}\n", "missing key 'loss'"),
        ("extends: paper\ntrain: {lr: -1}\n", "bad value at train.lr"),
        ("extends: paper\ndata: {split: {train: 0.9, val: 0.1, test: 0.2}}\n", "must be 1"),
        ("extends: paper\nfusion: {name: text-only}\nocr: null\n", "needs ocr"),
        ("extends: no-such-recipe\n", "recipe 'no-such-recipe' not found"),
    ],
)
def test_bad_recipes_get_clear_errors(tmp_path, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=expected):
        load_recipe(str(path))


def test_extends_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(str(tmp_path / "a.yaml"))


def test_unknown_recipe_name_suggests_close_ones():
    with pytest.raises(RecipeError, match="Did you mean 'paper-offline'"):
        load_recipe("paper-ofline")


def test_recipes_cannot_name_import_paths():
    with pytest.raises(UnknownComponentError):
        load_recipe("paper", ["fusion.name=mmgenre_fusion.baselines:ConcatFusion"])


def test_every_shipped_recipe_validates(cli):
    result = cli("recipe", "list", "--json")
    names = [row["name"] for row in json.loads(result.stdout) if not row["shadowed_by"]]
    assert {"paper", "paper-offline"} <= set(names)
    assert cli("recipe", "validate", *names).exit_code == 0


def test_recipe_list_says_where_each_recipe_comes_from(cli, tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "paper.yaml").write_text("extends: paper-offline\n")  # shadows the built-in one
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "mine.yaml").write_text("extends: paper-offline\nname: mine\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMGENRE_RECIPES", str(tmp_path / "mine"))
    rows = json.loads(cli("recipe", "list", "--json").stdout)
    found = {(row["name"], row["source"], row["shadowed_by"]) for row in rows}
    assert {("mine", "$MMGENRE_RECIPES", ""), ("paper", "./recipes", ""), ("paper", "built-in", "./recipes")} <= found
    assert ("paper-offline", "built-in", "") in found
    table = cli("recipe", "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "SOURCE", "PATH"]
    assert any(line.startswith("paper ") and "built-in (shadowed by ./recipes)" in line for line in table)


def test_recipe_sections_come_from_the_table_of_kinds():
    from mmgenre.components import KINDS
    from mmgenre.recipe import Recipe, RecipeSettings

    in_recipe = {key for key, kind in KINDS.items() if kind.in_recipe}
    assert {"executor", "store"} & set(KINDS) and not {"executor", "store"} & in_recipe  # chosen per command
    assert set(Recipe.model_fields) - set(RecipeSettings.model_fields) == in_recipe
    recipe = load_recipe("paper-offline")
    assert set(recipe.components()) == in_recipe - {"dataset"}
    assert recipe.fusion is recipe.parts["fusion"] and recipe.dataset is None
    assert set(recipe.to_dict()) >= in_recipe - {"dataset"}
    with pytest.raises(AttributeError):
        recipe.executor  # noqa: B018
    with pytest.raises(RecipeError, match="unknown key 'executor'"):
        load_recipe("paper-offline", ["executor.name=local"])
