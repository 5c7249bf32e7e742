"""The base of every schema of a file mmgenre reads back: typed, ranged, finite, versioned.

A file's schema is a pydantic model derived from `FileSchema`; `validate` reads a parsed value into it and
turns every problem into one ReadError line naming the file and the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mmgenre.files.reader import ReadError

Schema = TypeVar("Schema", bound=BaseModel)


class FileSchema(BaseModel):
    """Unknown keys are kept out (a newer mmgenre may add some); NaN and infinity are never numbers."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=False)


def problems(error: ValidationError, limit: int = 3) -> str:
    """A pydantic error as one line: the first few fields and what is wrong with each."""
    items = error.errors()
    shown = [
        f"{'.'.join(one_line(p) for p in item['loc']) or 'the top level'}: {one_line(item['msg'])}"
        for item in items[:limit]
    ]
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(shown) + more


def one_line(value: object, limit: int = 80) -> str:
    """A value from a file, shown in a message: whitespace (newlines too) folded, cut to `limit` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(schema: type[Schema], data: Any, where: object) -> Schema:
    if not isinstance(data, dict):
        raise ReadError(f"{where} must hold a JSON object, not {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ReadError(f"{where} is not what mmgenre writes (damaged or edited?): {problems(error)}") from None
