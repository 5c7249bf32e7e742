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
from mmgenre.files.reader import ReadError, read_bytes, read_text
from mmgenre.files.writer import OutputFolder

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
SUFFIX = ".tmpl"
MAX_TEMPLATE_BYTES = 1_000_000  # a generated file is a few kB
MAX_RUN_FILE_BYTES = 2**31  # a packaged model's weights
DEPENDENCIES = {"ocr": ["mmgenre", "pytesseract"]}
USAGE = {
    "default": "mmgenre train paper-offline --data DATA --set {key}.name={name}",
    "dataset": "mmgenre train paper-offline --data {name}:posters.jsonl",
    "executor": "mmgenre features paper-offline --data DATA --executor {name}",
    "store": "mmgenre features paper-offline --data DATA --store {name}:FOLDER",
    "model": "mmgenre predict {name} poster.jpg",
}
MODEL_FOLDER = "model"  # a packaged model's run folder, inside the package


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


def new_plugin(kind: str, name: str, folder: Path, run: Path | None = None) -> NewPlugin:
    """Write the plugin package for a component of `kind` (a key of KINDS) called `name` into `folder`, which
    must be new or empty; a model packages the run folder `run`."""
    problem = check_name(name)
    if problem:
        raise ValueError(f"'{name}' can't name a plugin: {problem}")
    module = "mmgenre_" + name.replace("-", "_")
    plugin = NewPlugin(folder, kind, name, f"mmgenre-{name}", module, "".join(p.title() for p in name.split("-")))
    if (kind == "model") != (run is not None):
        raise MmgenreError("a model is packaged from a run: give --from RUN (and only for a model)")
    values = template_values(plugin) | (model_values(plugin, run) if run is not None else {})
    root = files("mmgenre.scaffold") / "templates"
    if not (root / kind).is_dir():
        raise MmgenreError(f"there is no scaffold for {KINDS[kind].plural} yet (mmgenre/scaffold/templates/{kind})")
    texts: dict[str, str | bytes] = {
        relative.replace("package/", f"{module}/", 1).removesuffix(SUFFIX): Template(
            template.read_text(encoding="utf-8")
        ).substitute(values)
        for part in ("common", kind)
        for template, relative in walk(root / part)
    }
    if run is not None:
        texts |= {f"{module}/{MODEL_FOLDER}/{name}": data for name, data in run_files(run).items()}
    output = OutputFolder(folder, "plugin", option="DIR")
    check_unchanged(output, texts)  # our own package again: only while it is as we wrote it
    output.claim(overwrite=True)
    for name, text in texts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        plugin.files.append(output.write(name, text))
    return plugin


def check_unchanged(output: OutputFolder, texts: dict[str, str | bytes]) -> None:
    """A folder `plugin new` wrote may be written again (after an interrupted run, or to start over) as long as
    every file it wrote there is still what this command writes now: edits are never overwritten."""
    if not output.is_ours():
        return
    changed = []
    for name in sorted(output.owned()):
        path = output.path / name
        if not os.path.lexists(path):
            continue
        expected = texts.get(name)
        try:
            same = (
                read_bytes(path, MAX_RUN_FILE_BYTES)
                if isinstance(expected, bytes)
                else read_text(path, MAX_TEMPLATE_BYTES)
            ) == expected
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
        "package_data": "",
    }


def model_values(plugin: NewPlugin, run: Path) -> dict[str, str]:
    """What a model's templates say of the run it packages (read, and so checked, before anything is written)."""
    from mmgenre.training.run_folder import RunFolder

    folder = RunFolder(run)
    labels, test = folder.info().labels, folder.metrics().get("test", {})
    return {
        "recipe": str(folder.recipe_data().get("name", "mmgenre")),
        "labels": str(len(labels)),
        "genres": ", ".join(labels),
        "test_posters": str(test.get("posters", "no")),
        "test_macro_f1": f"{test['macro_f1']:.3f}" if "macro_f1" in test else "not measured",
        "package_data": f'\n[tool.setuptools.package-data]\n{plugin.module} = ["{MODEL_FOLDER}/*"]\n',
    }


def run_files(run: Path) -> dict[str, bytes]:
    """The files of a run folder that a packaged model ships: those mmgenre wrote there, and its model card."""
    from mmgenre.components.model import CARD
    from mmgenre.training.run_folder import RunFolder

    folder = RunFolder(run)
    names = (folder.folder.owned() | {"run.json", CARD}) - {"scores.npz"}
    return {name: read_bytes(run / name, MAX_RUN_FILE_BYTES) for name in sorted(names) if (run / name).is_file()}


def walk(folder: Traversable, prefix: str = "") -> list[tuple[Traversable, str]]:
    """(template, path relative to the template folder) of every template file below `folder`."""
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(SUFFIX):
            found.append((entry, prefix + entry.name))
    return found
