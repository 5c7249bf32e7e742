"""Checks every component must pass, whatever its kind: declaration, params, fingerprint, pickling."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError

from mmgenre.components import Params
from mmgenre.testing.checks import encoders, ocr
from mmgenre.testing.contract import CheckSkipped, check, expect
from mmgenre.testing.variations import variations
from mmgenre.testing.workbench import Workbench
from mmgenre.testing.worker import unpickled_fingerprint

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@check(
    contract="a component declares a `name` recipes can write (lowercase letters, digits, '.', '_', '-'), a string "
    "`version`, a `Params` model derived from mmgenre.components.Params, `cache_exempt` names that are params, "
    "a docstring (its first line is the summary `mmgenre list` shows), and an `unavailable_reason()` that returns "
    "None or a reason",
    fix="set the class attributes `name`, `version` and `Params`, list only real param names in `cache_exempt`, "
    "write a one-line docstring, and describe dependencies with `requires_modules` / `requires_executables`",
    runs_component=False,
)
def declares_itself(bench: Workbench) -> None:
    cls = bench.component
    expect(isinstance(cls.name, str) and NAME.match(cls.name), f"name = {cls.name!r}")
    expect(isinstance(cls.version, str) and cls.version, f"version = {cls.version!r}")
    expect(isinstance(cls.Params, type) and issubclass(cls.Params, Params), f"Params = {cls.Params!r}")
    unknown = sorted(set(cls.cache_exempt) - set(cls.Params.model_fields))
    expect(
        not unknown, f"cache_exempt names {unknown}, which are not params (params: {sorted(cls.Params.model_fields)})"
    )
    expect(cls.summary(), "no docstring")
    reason = cls.unavailable_reason()
    expect(reason is None or (isinstance(reason, str) and reason), f"unavailable_reason() returned {reason!r}")


@check(
    contract="params reject unknown keys, so a typo in a recipe stops the run before any work starts",
    fix="derive `Params` from mmgenre.components.Params (extra='forbid') and do not loosen its model_config",
    runs_component=False,
)
def params_reject_unknown_keys(bench: Workbench) -> None:
    data = {**bench.params_data(), "no_such_param_xyz": 1}
    try:
        bench.component.Params.model_validate(data)
    except ValidationError as error:
        kinds = {item["type"] for item in error.errors()}
        expect("extra_forbidden" in kinds, f"the unknown key was refused, but as {sorted(kinds)}, not as unknown")
        return
    expect(False, "Params accepted the unknown key 'no_such_param_xyz'")


@check(
    contract="params survive a recipe: dumped as the resolved recipe is (model_dump(mode='json') into YAML), read "
    "back and validated, they give equal params and the same fingerprint",
    fix="use param types that YAML and JSON can carry (str, numbers, bools, lists, dicts, Literal, None) and keep "
    "validators idempotent (validating a dumped value gives the same value)",
    runs_component=False,
)
def params_round_trip_through_a_recipe(bench: Workbench) -> None:
    component = bench.make()
    dumped = component.params.model_dump(mode="json")
    try:
        text = yaml.safe_dump({"component": {"name": component.name, "params": dumped}})
    except yaml.YAMLError as error:
        expect(False, f"the dumped params {dumped!r} cannot be written as YAML: {error}")
    loaded = yaml.safe_load(text)["component"]["params"]
    again = bench.make_from(loaded)
    expect(again.params == component.params, f"params {component.params!r} came back as {again.params!r}")
    expect(
        again.fingerprint() == component.fingerprint(),
        f"the fingerprint changed from {component.fingerprint()} to {again.fingerprint()}",
    )


@check(
    contract="the fingerprint (the feature cache key) changes when an output-relevant param changes, and does not "
    "change when a param listed in `cache_exempt` changes",
    fix="leave `identity()` to the base class, or keep every non-exempt param in what it returns; list params that "
    "never change outputs (batch sizes, threads, timeouts) in `cache_exempt`",
    runs_component=False,
)
def fingerprint_follows_output_params(bench: Workbench) -> None:
    component = bench.make()
    fingerprint, exempt = component.fingerprint(), bench.component.cache_exempt
    problems, tried = [], []
    for name, value in variations(bench.component.Params, component.params):
        tried.append(name)
        changed = bench.make(**{name: value}).fingerprint() != fingerprint
        if name in exempt and changed:
            problems.append(f"changing the cache-exempt param {name!r} to {value!r} changed the fingerprint")
        if name not in exempt and not changed and not same_outputs(bench, name, value):
            problems.append(f"changing the param {name!r} to {value!r} left the fingerprint unchanged")
    expect(not problems, "; ".join(problems) + f" (params varied: {', '.join(tried)})")


def same_outputs(bench: Workbench, name: str, value: object) -> bool:
    """Whether a feature maker (OCR engine, encoder) gives the same outputs on the samples with one param changed:
    then leaving that param out of its identity (as some do, in some settings) is right."""
    outputs: dict[str, Callable[[Workbench, Any], Any]] = {
        "ocr": ocr.sample_output,
        "image_encoder": encoders.sample_output,
        "text_encoder": encoders.sample_output,
    }
    output = outputs.get(bench.kind.key)
    if output is None or bench.component.unavailable_reason():
        return False
    base = bench.once("sample output", lambda: output(bench, bench.make()))
    return base == output(bench, bench.make(**{name: value}))


@check(
    contract="a component pickles (it is sent to worker processes) and unpickles, in a worker process, to a "
    "component with equal params and the same fingerprint",
    fix="define the class at module level in an importable module; keep loaded models, clients and locks out of "
    "the pickled state (a `__getstate__` returning {'params': self.params}), and don't build the fingerprint "
    "from per-process values such as hash() or id()",
    runs_component=False,
)
def pickles_to_another_process(bench: Workbench) -> None:
    component = bench.make()
    try:
        data = pickle.dumps(component)
    except Exception as error:
        expect(False, f"it does not pickle: {type(error).__name__}: {error}")
    copy = pickle.loads(data)
    expect(type(copy) is type(component), f"unpickled as {type(copy)!r}")
    expect(copy.params == component.params, f"params {component.params!r} unpickled as {copy.params!r}")
    try:
        other = bench.worker.call(unpickled_fingerprint, data)
    except CheckSkipped:  # no worker may start from here (see main_guard_problem)
        raise
    except Exception as error:
        expect(False, f"unpickling in a worker process failed: {type(error).__name__}: {error}")
    expect(
        other == component.fingerprint(),
        f"the fingerprint is {component.fingerprint()} here and {other} in a worker process",
    )
