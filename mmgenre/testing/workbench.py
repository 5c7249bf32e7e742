"""What the checks of one component share: a scratch folder, the params to make it with, and costly things
made once (a loaded encoder, a set-up OCR engine, a poster's OCR result)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmgenre.components import KINDS, Component, Kind
from mmgenre.testing.contract import Violation
from mmgenre.testing.worker import WorkerProcess

PARAMS_FIX = (
    "give the checks working params: a `conformance_params(cls, folder)` classmethod on the component returning "
    "a dict (it may write small local files such as tiny weights or a sample dataset into `folder`), or pass "
    "params= to check_component / checks_for"
)


def kind_of(component: type) -> Kind:
    """The kind whose interface `component` implements."""
    for kind in KINDS.values():
        if isinstance(component, type) and issubclass(component, kind.base):
            return kind
    bases = ", ".join(kind.base.__name__ for kind in KINDS.values())
    raise TypeError(f"{component!r} is not a component: subclass one of {bases} (from mmgenre.components)")


class Workbench:
    """The checks' view of one component class."""

    def __init__(
        self, component: type[Component], folder: Path, params: dict | None = None, worker: WorkerProcess | None = None
    ) -> None:
        self.component: Any = component  # the checks of a kind use that kind's attributes
        self.kind = kind_of(component)
        self.folder = folder
        self.worker = worker or WorkerProcess()  # where pickled components are sent
        self._params = params
        self._made: dict[str, Any] = {}
        self._scratch = itertools.count()

    @property
    def label(self) -> str:
        return f"{self.kind.label} '{self.component.name}' ({self.component.__module__}.{self.component.__qualname__})"

    def params_data(self) -> dict:
        """The params the checks make the component with: given ones, its `conformance_params`, or {}."""
        if self._params is None:
            self._params = dict(self.component.conformance_params(self.scratch("conformance")) or {})
        return self._params

    def make(self, **changes: Any) -> Any:
        """A new component from the check params, with `changes` applied."""
        return self.make_from({**self.params_data(), **changes})

    def make_from(self, data: dict) -> Any:
        """A new component from exactly these params."""
        try:
            params = self.component.Params.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(params)'}: {e['msg']}" for e in error.errors())
            raise Violation(f"its Params rejected {data!r} ({problems})", fix=PARAMS_FIX) from None
        return self.component(params)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()`, computed on first use and shared by the checks that follow."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def scratch(self, name: str) -> Path:
        """A new, empty folder for one use."""
        folder = self.folder / f"{next(self._scratch)}-{name}"
        folder.mkdir(parents=True)
        return folder
