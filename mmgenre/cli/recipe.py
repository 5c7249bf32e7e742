"""`mmgenre recipe show|validate|list`."""

from __future__ import annotations

import click

from mmgenre.cli.options import json_option, print_json, print_table, set_option
from mmgenre.recipe import display, find_recipe, load_recipe, read_recipe_text


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
@json_option
def list_recipes(as_json: bool) -> None:
    """List the recipe names that can be used without a path, with where each comes from: $MMGENRE_RECIPES,
    ./recipes, built-in, or a plugin (a name found twice is used from the first, the others are shadowed)."""
    from mmgenre.recipe_catalog import list_recipes as catalog

    rows = [{"name": r.name, "source": r.source, "path": str(r.path), "shadowed_by": r.shadowed_by} for r in catalog()]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["source"] += f" (shadowed by {row['shadowed_by']})" if row["shadowed_by"] else ""
    print_table(rows, ["name", "source", "path"])


COMMANDS = [recipe_group]
