"""`mmgenre recipe show|validate|list`."""

from __future__ import annotations

import click

from mmgenre.cli.options import set_option
from mmgenre.recipe import available_recipes, display, find_recipe, load_recipe, read_recipe_text


@click.group("recipe")
def recipe_group() -> None:
    """Inspect and validate recipes."""


@recipe_group.command("show")
@click.argument("recipe", required=False)
@click.option("--resolved", is_flag=True, help="Print the fully resolved recipe (extends, overrides, defaults).")
@set_option
def show(recipe: str | None, resolved: bool, overrides: tuple[str, ...]) -> None:
    """Print RECIPE (a path or a name such as paper; default: paper)."""
    if resolved or overrides:
        click.echo(load_recipe(recipe, list(overrides)).to_yaml(), nl=False)
    else:
        click.echo(read_recipe_text(find_recipe(recipe)), nl=False)


@recipe_group.command("validate")
@click.argument("recipes", nargs=-1)
@set_option
def validate(recipes: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Validate RECIPES (default: paper); exits 1 on the first invalid one."""
    for ref in recipes or (None,):
        resolved = load_recipe(ref, list(overrides))
        click.echo(f"{display(find_recipe(ref))}: ok ({resolved.fusion.name} + {resolved.loss.name})")


@recipe_group.command("list")
def list_recipes() -> None:
    """List the recipe names that can be used without a path."""
    for name in available_recipes():
        click.echo(name)


COMMANDS = [recipe_group]
