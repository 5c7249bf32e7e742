"""The hermetic unit tier: tests that reach neither the real posters nor the network, marked `unit` at collection.

A test reaches the posters when it, a fixture it uses, or a function of its module (or of conftest.py) that it
calls names one of POSTER_NAMES, directly or through each other. The search reads the source, so it can only
err on the safe side; and under `-m unit` the poster folder is moved out of reach, so a test that slips through
fails instead of reading posters.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

# session_cache holds the features of the posters once the tests before have filled it
POSTER_NAMES = frozenset({"POSTERS", "poster_rows", "write_dataset", "posters_dir", "tiny_run", "session_cache"})
EXCLUDED_MARKERS = ("slow", "gpu", "network")


def names_in(node: ast.AST) -> set[str]:
    """Every name, attribute and short string a piece of code mentions (a fixture may be asked for by name)."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.arg):
            found.add(child.arg)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str) and len(child.value) < 80:
            found.add(child.value)
    return found


@cache
def poster_users(path: Path) -> frozenset[str]:
    """The top-level functions and classes of a module that reach the posters; "*" when its module-level code
    does (then all of it counts)."""
    if path in _READING or path == Path(__file__):  # modules importing each other; this file names them all
        return frozenset()
    _READING.add(path)
    try:
        return module_users(path)
    finally:
        _READING.discard(path)


_READING: set[Path] = set()


def module_users(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    definitions = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    defs = {node.name: names_in(node) for node in tree.body if isinstance(node, definitions)}
    for node in tree.body:  # NAME = ... defines NAME as other definitions do
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defs.update({target.id: names_in(node) for target in targets if isinstance(target, ast.Name)})
    plain = definitions | ast.Assign | ast.AnnAssign | ast.Import | ast.ImportFrom
    top = [names_in(node) for node in tree.body if not isinstance(node, plain)]
    reaching = set(POSTER_NAMES) | set(conftest_users(path)) | imported_users(tree, path.parent)
    users: set[str] = set()
    while True:
        grown = {name for name, refs in defs.items() if refs & (reaching | users)}
        if grown <= users:
            break
        users |= grown
    everywhere = any(names & (reaching | users) for names in top)
    return frozenset(users | ({"*"} if everywhere else set()))


def imported_users(tree: ast.Module, folder: Path) -> set[str]:
    """Names imported from sibling helper modules (`from bad_inputs import ...`) that reach the posters there."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and (folder / f"{node.module}.py").is_file():
            helpers = poster_users(folder / f"{node.module}.py")
            found |= {alias.asname or alias.name for alias in node.names if alias.name in helpers or "*" in helpers}
    return found


def conftest_users(path: Path) -> frozenset[str]:
    conftest = Path(__file__).with_name("conftest.py")
    return frozenset() if path == conftest else poster_users(conftest)


def reaches_posters(item: pytest.Item) -> bool:
    path = Path(str(item.path))
    users = poster_users(path) | conftest_users(path) | POSTER_NAMES
    if "*" in users or set(getattr(item, "fixturenames", ())) & users:
        return True
    function = getattr(item, "function", None)
    owner = getattr(item, "cls", None) or function
    return owner is None or getattr(owner, "__name__", "") in users


def mark_unit_tests(items: list[pytest.Item]) -> None:
    """Mark `unit` every test that is not slow, gpu or network and reaches no poster."""
    for item in items:
        if item.path.suffix != ".py" or any(item.get_closest_marker(m) for m in EXCLUDED_MARKERS):
            continue
        if not reaches_posters(item):
            item.add_marker(pytest.mark.unit)
