"""Changed values for a component's params, derived from their pydantic field types and current values, so the
fingerprint check can change one param at a time."""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ValidationError


def variations(model: type[BaseModel], current: BaseModel) -> Iterator[tuple[str, Any]]:
    """(field name, a different value that the model accepts) for each field a value could be found for."""
    base = current.model_dump()
    for name, field in model.model_fields.items():
        value = base[name]
        for candidate in candidates(field.annotation, value):
            if candidate == value and type(candidate) is type(value):
                continue
            try:
                changed = model.model_validate({**base, name: candidate})
            except ValidationError:
                continue
            if getattr(changed, name) != getattr(current, name):
                yield name, candidate
                break


def candidates(annotation: Any, value: Any) -> Iterator[Any]:
    """Plausible other values for a field: from the current value's type first, then from the annotation."""
    yield from _from_value(value)
    for option in _options(annotation):
        yield from _from_type(option, value)


def _options(annotation: Any) -> list[Any]:
    """The alternatives of a Union/Optional (Annotated unwrapped), else the annotation itself."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [option for arg in typing.get_args(annotation) for option in _options(arg)]
    return [annotation]


def _from_value(value: Any) -> Iterator[Any]:
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, int):
        yield from (value + 1, value - 1, value * 2, value // 2, 1)
    elif isinstance(value, float):
        yield from (value * 2, value / 2, value + 0.5, value - 0.5, 0.5, 0.25) if value else (0.5, 0.1, 1.0)
    elif isinstance(value, str):
        yield from (value + "-changed", value[:-1], "changed")
    elif isinstance(value, list | tuple):
        if len(value) > 1:
            yield type(value)(value[:-1])
        if value:
            yield type(value)([*value, value[0]])
    elif isinstance(value, enum.Enum):
        yield from (member for member in type(value) if member != value)
    if value is not None:
        yield None


def _from_type(annotation: Any, value: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        yield from (choice for choice in typing.get_args(annotation) if choice != value)
    elif annotation is bool:
        yield from (True, False)
    elif annotation is int:
        yield from (1, 2, 8, 64)
    elif annotation is float:
        yield from (0.5, 0.1, 1.0, 2.0)
    elif annotation is str:
        yield "changed"
    elif origin in (list, tuple) and typing.get_args(annotation):
        for item in _from_type(typing.get_args(annotation)[0], None):
            yield [item]
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        yield from annotation
