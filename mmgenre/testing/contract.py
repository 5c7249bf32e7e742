"""What a conformance check is: a contract, how to meet it, and a function that looks for violations."""

from __future__ import annotations

import unittest
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmgenre.testing.workbench import Workbench


class Violation(Exception):
    """Raised inside a check: what was found that breaks the contract (and, when it is not the check's usual
    advice, how to fix it)."""

    def __init__(self, found: str, fix: str | None = None) -> None:
        super().__init__(found)
        self.fix = fix


class CheckSkipped(unittest.SkipTest):
    """The component cannot run here for a reason of its own (a missing package, binary, key or service);
    unittest and pytest report it as a skip."""


class ConformanceError(AssertionError):
    """A component broke a contract of its kind; the message says which, what was found and how to meet it."""


def expect(condition: object, found: str, fix: str | None = None) -> None:
    """Fail the running check with `found` unless `condition` holds."""
    if not condition:
        raise Violation(found, fix)


@dataclass(frozen=True)
class Check:
    """One contract of a kind of component (or of every component, when `kinds` is empty)."""

    name: str
    contract: str
    fix: str
    run: Callable[[Workbench], None]
    kinds: tuple[str, ...] = ()
    runs_component: bool = True  # needs the component's own dependencies (skipped when they are unavailable)
    applies: Callable[[Workbench], bool] | None = None  # None: to every component of its kinds

    def failure(self, label: str, found: str, fix: str | None = None) -> ConformanceError:
        return ConformanceError(
            f"{label} fails the check '{self.name}'.\n"
            f"  Contract: {self.contract}\n"
            f"  Found: {found}\n"
            f"  How to meet it: {fix or self.fix}"
        )


CHECKS: list[Check] = []  # filled by the modules of mmgenre.testing.checks, in the order they are run


def check(
    *kinds: str,
    contract: str,
    fix: str,
    runs_component: bool = True,
    applies: Callable[[Workbench], bool] | None = None,
) -> Callable[[Callable[[Workbench], None]], Callable[[Workbench], None]]:
    """Declare a check for components of `kinds` (keys of KINDS; none: every component)."""

    def declare(function: Callable[[Workbench], None]) -> Callable[[Workbench], None]:
        CHECKS.append(Check(function.__name__, contract, fix, function, kinds, runs_component, applies))
        return function

    return declare
