"""Where recipe names are found: $MMGENRE_RECIPES, ./recipes, the built-in recipes, then those plugins ship."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmgenre.errors import RecipeError
from mmgenre.registry import Registry, did_you_mean

DEFAULT_RECIPE = "paper"


@dataclass(frozen=True)
class RecipeListing:
    """A recipe a name finds: where it is, where it comes from, and what hides it when a name is taken twice."""

    name: str
    path: Path
    source: str  # "$MMGENRE_RECIPES", "./recipes", "built-in" or "plugin NAME (PACKAGE VERSION)"
    shadowed_by: str = ""  # the source that a lookup of this name finds first, when it is not this one


def recipe_sources() -> list[tuple[Path, str]]:
    """The folders searched for recipe names, in order, with how `recipe list` names them."""
    found = [(Path(p), "$MMGENRE_RECIPES") for p in os.environ.get("MMGENRE_RECIPES", "").split(os.pathsep) if p]
    found.append((Path("recipes"), "./recipes"))
    found.append(((Path(__file__).parent / "recipes").resolve(), "built-in"))  # in a checkout, a link to recipes/
    return found


def recipe_dirs() -> list[Path]:
    """Where recipe names are looked up before the plugins' recipes: $MMGENRE_RECIPES, ./recipes, the built-in
    ones (which ship inside the package: `mmgenre/recipes`)."""
    return [folder for folder, _ in recipe_sources()]


def available_recipes() -> list[str]:
    """The recipe names found in the recipe folders (without asking the plugins)."""
    return sorted({p.stem for d in recipe_dirs() if d.is_dir() for p in d.glob("*.yaml")})


def list_recipes(registry: Registry | None = None) -> list[RecipeListing]:
    """Every recipe a name can find, in lookup order; a name found twice is marked shadowed where it loses."""
    found: list[tuple[str, Path, str]] = []
    for folder, source in recipe_sources():
        if folder.is_dir():
            found += [(path.stem, path, source) for path in sorted(folder.glob("*.yaml"))]
    registry = registry or Registry.from_entry_points()
    packages = {p.name: f"{p.package} {p.version}" for p in registry.plugins}
    for recipe in registry.recipes():
        found.append((recipe.name, recipe.path, f"plugin {recipe.plugin} ({packages.get(recipe.plugin, '?')})"))
    listings: list[RecipeListing] = []
    first: dict[str, RecipeListing] = {}
    seen: set[Path] = set()
    for name, path, source in found:
        if path.resolve() in seen:  # ./recipes in a checkout is the built-in folder
            continue
        seen.add(path.resolve())
        winner = first.get(name)
        listing = RecipeListing(name, path, source, winner.source if winner else "")
        first.setdefault(name, listing)
        listings.append(listing)
    return listings


def find_recipe(
    ref: str | os.PathLike | None, relative_to: Path | None = None, registry: Registry | None = None
) -> Path:
    """A recipe file from a path or a name such as `paper` (the plugins' recipes are asked last)."""
    ref = str(ref or DEFAULT_RECIPE)
    candidates = [Path(ref)]
    if relative_to is not None:
        candidates.insert(0, relative_to / ref)
    bare_name = not ref.endswith((".yaml", ".yml")) and "/" not in ref and os.sep not in ref
    if not ref.endswith((".yaml", ".yml")):
        candidates += [d / f"{ref}.yaml" for d in recipe_dirs()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    listings = list_recipes(registry) if bare_name else []
    match = next((listing for listing in listings if listing.name == ref), None)
    if match is not None:
        return match.path
    names = sorted({listing.name for listing in listings} or set(available_recipes()))
    raise RecipeError(
        f"recipe '{ref}' not found (a file path or one of the names below)."
        f"{did_you_mean(Path(ref).stem, names)} Available: {', '.join(names) or '(none)'}"
    )
