"""mmgenre's pytest plugin (entry point `pytest11: mmgenre`): a test taking the `mmgenre_check` fixture runs
once per check and component of the mmgenre plugins it is pointed at, so a plugin package needs one line of
config and a two-line test:

    # pyproject.toml                             # tests/test_conformance.py
    [tool.pytest.ini_options]                    def test_conformance(mmgenre_check):
    mmgenre_plugins = ["my-plugin"]                  mmgenre_check()

The plugins are named (entry-point or package names) by a `@pytest.mark.mmgenre_plugins(...)` marker on the
test, else `--mmgenre-plugin NAME` (repeatable), else the `mmgenre_plugins` ini setting. Nothing heavy is
imported unless a test asks for `mmgenre_check`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SESSION = pytest.StashKey["ConformanceSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mmgenre", "mmgenre conformance checks")
    group.addoption(
        "--mmgenre-plugin",
        action="append",
        default=[],
        dest="mmgenre_plugins",
        metavar="NAME",
        help="check the components of this mmgenre plugin (its entry-point name, distribution or import package) "
        "in tests taking `mmgenre_check` (repeatable; overrides the mmgenre_plugins ini setting)",
    )
    parser.addini("mmgenre_plugins", "mmgenre plugins whose components `mmgenre_check` tests check", type="args")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mmgenre_plugins(*names): the mmgenre plugins whose components this test's mmgenre_check checks"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()


@dataclass(frozen=True)
class Case:
    """One check of one component."""

    id: str
    check: Any  # mmgenre.testing.contract.Check
    bench: Any  # mmgenre.testing.workbench.Workbench

    def run(self) -> None:
        from mmgenre.testing.runner import run_check

        __tracebackhide__ = True
        run_check(self.check, self.bench)


class ConformanceSession:
    """The installed plugins and one workbench per component, shared by a whole pytest run."""

    def __init__(self) -> None:
        from mmgenre.registry import Registry
        from mmgenre.testing.worker import WorkerProcess

        self.registry = Registry.from_entry_points()
        self.folder = Path(tempfile.mkdtemp(prefix="mmgenre-checks-"))
        self.worker = WorkerProcess()  # one worker process for the whole run
        self._benches: dict[tuple[str, str], Any] = {}

    def cases(self, plugins: list[str], origin: str) -> list[Case]:
        from mmgenre.components import KINDS
        from mmgenre.testing.runner import applicable

        cases = []
        named = [plugin for name in plugins for plugin in self.plugin_names(name, origin)]
        for plugin in dict.fromkeys(named):  # once each, in the order named
            components = [e.component for kind in KINDS for e in self.registry.entries(kind) if e.plugin == plugin]
            if not components:
                pytest.fail(f"mmgenre plugin '{plugin}' ({origin}) registers no components", pytrace=False)
            for component in components:
                bench = self.bench(component)
                for check in applicable(bench):
                    cases.append(Case(f"{bench.kind.key}:{component.name}:{check.name}", check, bench))
        return cases

    def plugin_names(self, name: str, origin: str) -> list[str]:
        """The entry-point names of the plugins called `name`: an entry point, a distribution (`mmgenre-my-head`,
        all of its plugins) or an import package (`mmgenre_my_head`); case, '-', '_' and '.' don't matter."""
        found = [p for p in self.registry.plugins if normalised(name) in {normalised(n) for n in names_of(p)}]
        for info in found:
            if not info.loaded:
                pytest.fail(f"the mmgenre plugin '{info.name}' ({origin}) is left out: {info.reason}", pytrace=False)
        if found:
            return [info.name for info in found]
        installed = ", ".join(f"{p.name} ({p.package})" for p in self.registry.plugins)
        pytest.fail(
            f"no mmgenre plugin '{name}' ({origin}); installed: {installed}. Is the package installed (pip install "
            "-e .) with an entry point in the 'mmgenre' group, and does it import without errors?",
            pytrace=False,
        )

    def bench(self, component: type[Any]) -> Any:
        from mmgenre.testing.workbench import Workbench, kind_of

        key = (kind_of(component).key, component.name)
        if key not in self._benches:
            folder = self.folder / "-".join(key)
            folder.mkdir()
            self._benches[key] = Workbench(component, folder, worker=self.worker)
        return self._benches[key]

    def close(self) -> None:
        self.worker.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def names_of(info: Any) -> list[str]:
    """What a plugin can be called: its entry-point name, its distribution and the package its entry point imports."""
    return [info.name, info.package, info.module.split(":")[0].split(".")[0]]


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requested_plugins(metafunc: pytest.Metafunc) -> tuple[list[str], str]:
    """The plugins a test checks and where they were named."""
    marker = metafunc.definition.get_closest_marker("mmgenre_plugins")
    if marker is not None:
        return list(marker.args), "the mmgenre_plugins marker"
    if metafunc.config.getoption("mmgenre_plugins"):
        return metafunc.config.getoption("mmgenre_plugins"), "--mmgenre-plugin"
    return list(metafunc.config.getini("mmgenre_plugins")), "the mmgenre_plugins ini setting"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mmgenre_check" not in metafunc.fixturenames:
        return
    plugins, origin = requested_plugins(metafunc)
    if not plugins:
        pytest.fail(
            f"{metafunc.definition.nodeid} takes mmgenre_check, but no mmgenre plugin is named: set "
            '`mmgenre_plugins = ["your-plugin"]` in [tool.pytest.ini_options], pass --mmgenre-plugin NAME, or mark '
            'the test with @pytest.mark.mmgenre_plugins("your-plugin")',
            pytrace=False,
        )
    session = metafunc.config.stash.get(SESSION, None)
    if session is None:
        session = metafunc.config.stash[SESSION] = ConformanceSession()
    cases = session.cases(plugins, origin)
    metafunc.parametrize("mmgenre_check", cases, ids=[case.id for case in cases], indirect=True)


@pytest.fixture
def mmgenre_check(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Runs this test's conformance check: `mmgenre_check()` skips when the component can't run here (a missing
    package, binary or key, with its reason); `mmgenre_check(strict=True)` fails instead."""
    from mmgenre.testing.contract import CheckSkipped

    case: Case = request.param

    def run(strict: bool = False) -> None:
        __tracebackhide__ = True
        try:
            case.run()
        except CheckSkipped as skip:
            if strict:
                pytest.fail(f"{case.id} could not run: {skip}", pytrace=False)
            pytest.skip(str(skip))

    return run
