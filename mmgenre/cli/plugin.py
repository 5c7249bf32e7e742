"""`mmgenre plugin new`: start a plugin package of your own."""

from __future__ import annotations

from pathlib import Path

import click

from mmgenre.cli.options import json_option, print_json
from mmgenre.components import KINDS, kind_choices

ONE_KIND = {name: keys[0] for name, keys in kind_choices().items() if len(keys) == 1}  # 'encoders' names two


@click.group("plugin")
def plugin_group() -> None:
    """Write plugins: `plugin new` starts a package that installs and passes mmgenre's checks as it is."""


@plugin_group.command("new")
@click.argument("kind", type=click.Choice(sorted(ONE_KIND)), metavar="KIND")
@click.argument("name")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]")
@click.option(
    "--from",
    "run",
    metavar="RUN",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="For a model: the run folder to package (its weights, recipe, thresholds, metrics and model card).",
)
@json_option
def new(kind: str, name: str, folder: Path | None, run: Path | None, as_json: bool) -> None:
    """A plugin package for the component NAME of KIND, in DIR (default ./mmgenre-NAME): the component with a
    working default implementation, its entry point, tests running mmgenre.testing's checks, and a README.

    KIND: one of {kinds} (or their plurals)."""
    from mmgenre.scaffold import new_plugin
    from mmgenre.scaffold.generate import check_name

    key = ONE_KIND[kind]
    problem = check_name(name) or taken(key, name)
    if problem:
        raise click.BadParameter(problem, param_hint="NAME")
    if (key == "model") != (run is not None):
        raise click.UsageError("--from RUN is required for a model, and only for a model")
    plugin = new_plugin(key, name, folder or Path(f"mmgenre-{name}"), run)
    files = [str(path.relative_to(plugin.folder)) for path in plugin.files]
    if as_json:
        print_json({**vars(plugin), "folder": str(plugin.folder), "files": files})
        return
    click.echo(f"Wrote the {KINDS[key].label} '{name}' as the package {plugin.package} in {plugin.folder}/:")
    for file in files:
        click.echo(f"  {file}")
    click.echo(f"\nNext:\n  pip install -e {plugin.folder}\n  (cd {plugin.folder} && pytest)\n  mmgenre list")


new.help = (new.help or "").replace("{kinds}", ", ".join(kind.key.replace("_", "-") for kind in KINDS.values()))


def taken(kind: str, name: str) -> str | None:
    """Why `name` can't be used because an installed plugin already registers it, or None."""
    from mmgenre.registry import Registry

    for entry in Registry.from_entry_points().entries(kind):
        if entry.component.name == name:
            return f"the {KINDS[kind].label} '{name}' exists already (plugin '{entry.plugin}'): pick another name"
    return None


COMMANDS = [plugin_group]
