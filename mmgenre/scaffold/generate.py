"""Writing a plugin package from the templates of its kind: the component with a working default implementation,
its entry point, tests that run mmgenre.testing's checks, and a README."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from mmgenre import __version__
from mmgenre.components import KINDS
from mmgenre.errors import MmgenreError
from mmgenre.files.errors import WriteError
from mmgenre.files.reader import ReadError, read_text
from mmgenre.files.writer import OutputFolder

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SUFFIX = ".tmpl"
MAX_TEMPLATE_BYTES = 1_000_000  # a generated file is a few kB
DEPENDENCIES = {"ocr": ["mmgenre", "pytesseract"]}
USAGE = {
    "default": "mmgenre train paper-offline --data DATA --set {key}.name={name}",
    "dataset": "mmgenre train paper-offline --data {name}:posters.jsonl",
    "executor": "mmgenre features paper-offline --data DATA --executor {name}",
    "store": "mmgenre features paper-offline --data DATA --store {name}:FOLDER",
}


@dataclass
class NewPlugin:
    """A generated plugin package: where it is, what it is called, and the files written."""

    folder: Path
    kind: str
    name: str
    package: str
    module: str
    class_name: str
    files: list[Path] = field(default_factory=list)


def check_name(name: str) -> str | None:
    """Why `name` can't name a component and its package, or None."""
    if not NAME.match(name):
        return "use lowercase letters and digits, words joined by '-', starting with a letter (e.g. 'my-head')"
    return None


def new_plugin(kind: str, name: str, folder: Path) -> NewPlugin:
    """Write the plugin package for a component of `kind` (a key of KINDS) called `name` into `folder`, which
    must be new or empty."""
    problem = check_name(name)
    if problem:
        raise ValueError(f"'{name}' can't name a plugin: {problem}")
    module = "mmgenre_" + name.replace("-", "_")
    plugin = NewPlugin(folder, kind, name, f"mmgenre-{name}", module, "".join(p.title() for p in name.split("-")))
    values = template_values(plugin)
    root = files("mmgenre.scaffold") / "templates"
    if not (root / kind).is_dir():
        raise MmgenreError(f"there is no scaffold for {KINDS[kind].plural} yet (mmgenre/scaffold/templates/{kind})")
    texts = {
        relative.replace("package/", f"{module}/", 1).removesuffix(SUFFIX): Template(
            template.read_text(encoding="utf-8")
        ).substitute(values)
        for part in ("common", kind)
        for template, relative in walk(root / part)
    }
    output = OutputFolder(folder, "plugin", option="DIR")
    check_unchanged(output, texts)  # our own package again: only while it is as we wrote it
    output.claim(overwrite=True)
    for name, text in texts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        plugin.files.append(output.write(name, text))
    return plugin


def check_unchanged(output: OutputFolder, texts: dict[str, str]) -> None:
    """A folder `plugin new` wrote may be written again (after an interrupted run, or to start over) as long as
    every file it wrote there is still what this command writes now: edits are never overwritten."""
    if not output.is_ours():
        return
    changed = []
    for name in sorted(output.owned()):
        path = output.path / name
        if not os.path.lexists(path):
            continue
        try:
            same = read_text(path, MAX_TEMPLATE_BYTES) == texts.get(name)
        except ReadError:
            same = False
        if not same:
            changed.append(name)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise WriteError(
            f"DIR {output.path} holds a plugin package written by `mmgenre plugin new` whose files differ from "
            f"this one's ({shown}: edited, or another kind or name): choose a new folder; your edits are kept"
        )


def template_values(plugin: NewPlugin) -> dict[str, str]:
    kind = KINDS[plugin.kind]
    dependencies = DEPENDENCIES.get(plugin.kind, ["mmgenre"])
    return {
        "name": plugin.name,
        "package": plugin.package,
        "module": plugin.module,
        "Class": plugin.class_name,
        "kind_label": kind.label,
        "kind_cli": kind.key.replace("_", "-"),
        "usage": USAGE.get(plugin.kind, USAGE["default"]).format(key=kind.key, name=plugin.name),
        "hook": kind.hook,
        "base": kind.base.__name__,
        "dependencies": ", ".join(f'"{d}>={__version__}"' if d == "mmgenre" else f'"{d}"' for d in dependencies),
    }


def walk(folder: Traversable, prefix: str = "") -> list[tuple[Traversable, str]]:
    """(template, path relative to the template folder) of every template file below `folder`."""
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(SUFFIX):
            found.append((entry, prefix + entry.name))
    return found
