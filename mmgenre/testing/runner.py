"""Running the checks of a component: one by one (`checks_for`) or all at once (`check_component`)."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from mmgenre.components import Component
from mmgenre.errors import ComponentUnavailableError
from mmgenre.testing.checks import CHECKS
from mmgenre.testing.contract import Check, CheckSkipped, ConformanceError, Violation
from mmgenre.testing.workbench import Workbench
from mmgenre.testing.worker import WorkerProcess


def applicable(bench: Workbench) -> list[Check]:
    """The checks for the component's kind that apply to it (a check that can't tell applies)."""
    found = []
    for check in sorted(CHECKS, key=lambda check: bool(check.kinds)):  # the common checks first
        if check.kinds and bench.kind.key not in check.kinds:
            continue
        try:
            applies = check.applies is None or check.applies(bench)
        except Exception:  # e.g. params the component rejects: the check runs and says so
            applies = True
        if applies:
            found.append(check)
    return found


def run_check(check: Check, bench: Workbench) -> None:
    """Run one check; raise ConformanceError on a violation, CheckSkipped when the component can't run here."""
    if check.runs_component:
        reason = bench.component.unavailable_reason()
        if reason:
            raise CheckSkipped(f"{bench.label} is unavailable here: {reason}")
    try:
        check.run(bench)
    except Violation as violation:
        raise check.failure(bench.label, str(violation), violation.fix) from None
    except ComponentUnavailableError as error:
        raise CheckSkipped(f"{bench.label} cannot run here: {error}") from None
    except (CheckSkipped, ConformanceError):
        raise
    except Exception as error:
        raise check.failure(bench.label, f"raised {type(error).__name__}: {error}") from error


def new_workbench(component: type[Component], params: dict | None) -> Workbench:
    """A workbench in a temporary folder that is removed when the workbench is no longer used."""
    folder = Path(tempfile.mkdtemp(prefix=f"mmgenre-checks-{component.name or 'component'}-"))
    worker = WorkerProcess()
    bench = Workbench(component, folder, params, worker)
    weakref.finalize(bench, shutil.rmtree, folder, True)
    weakref.finalize(bench, worker.close)
    return bench


def checks_for(component: type[Component], params: dict | None = None) -> Iterator[tuple[str, Callable[[], None]]]:
    """(check name, a callable running it) for each check that applies to `component`, for frameworks that run
    them one by one; the callables share one workbench (a loaded model is loaded once). `params`: the params to
    check the component with (default: its `conformance_params`, else its defaults)."""
    bench = new_workbench(component, params)
    for check in applicable(bench):
        yield check.name, partial(run_check, check, bench)


def check_component(component: type[Component], params: dict | None = None, strict: bool = False) -> dict[str, str]:
    """Run every check for the component's kind; returns {check name: 'passed' or 'skipped: why'} and raises a
    ConformanceError (an AssertionError) naming each contract broken. `strict`: a skip is a failure too."""
    outcomes, failures = {}, []
    for name, run in checks_for(component, params):
        try:
            run()
            outcomes[name] = "passed"
        except CheckSkipped as skip:
            outcomes[name] = f"skipped: {skip}"
            if strict:
                failures.append(f"check '{name}' could not run: {skip}")
        except ConformanceError as error:
            outcomes[name] = "failed"
            failures.append(str(error))
    if failures:
        raise ConformanceError("\n\n".join(failures))
    return outcomes
