"""The one bounded reader: every file mmgenre reads back goes through it.

Only regular files are opened (a FIFO, a device or a folder is refused without blocking: the file is opened
non-blocking and checked with fstat before a byte is read), reads stop at a size limit, and JSON is parsed
with a depth limit and without NaN or Infinity. Each failure is a ReadError naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import IO, Any

from mmgenre.errors import MmgenreError

MB = 2**20
JSON_LIMIT = 64 * MB
JSON_DEPTH = 64


class ReadError(MmgenreError):
    """A file that can't be read as what mmgenre expects there."""


def is_regular_file(path: str | Path) -> bool:
    """A regular file (or a link to one): never a FIFO, socket, device or folder."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


KINDS = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device"}


def open_regular(path: str | Path, limit: int | None = None) -> IO[bytes]:
    """Open a regular file for reading; anything else, or a file larger than `limit` bytes, is a ReadError."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ReadError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise ReadError(f"cannot read {path!r}: {error}") from None
    try:
        mode, size = (info := os.fstat(handle)).st_mode, info.st_size
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in KINDS.items() if test(mode)), "not a regular file")
            raise ReadError(f"{path} is {kind}, not a regular file: only regular files are read")
        if limit is not None and size > limit:
            raise ReadError(f"{path} is {size / MB:.1f} MB, more than the {limit / MB:.0f} MB such a file may be")
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_bytes(path: str | Path, limit: int) -> bytes:
    with open_regular(path, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while we read it
        raise ReadError(f"{path} is more than the {limit / MB:.0f} MB such a file may be")
    return data


def read_text(path: str | Path, limit: int) -> str:
    """UTF-8 text (a byte-order mark is dropped); NUL bytes mean it is not text."""
    data = read_bytes(path, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReadError(f"{path} is not UTF-8 text (byte {error.start})") from None
    if "\x00" in text:
        raise ReadError(f"{path} is not UTF-8 text (it holds NUL bytes: UTF-16?)")
    return text


def parse_json(text: str, where: str | Path, depth: int = JSON_DEPTH) -> Any:
    """JSON with finite numbers only, nested at most `depth` levels."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ReadError(f"{where} is nested too deeply (more than {depth} levels)") from None
    except ValueError as error:
        raise ReadError(f"{where} is not valid JSON: {error}") from None
    if nesting(value, depth) > depth:
        raise ReadError(f"{where} is nested too deeply (more than {depth} levels)")
    return value


def read_json(path: str | Path, limit: int = JSON_LIMIT, depth: int = JSON_DEPTH) -> Any:
    return parse_json(read_text(path, limit), path, depth)


def read_json_lines(path: str | Path, limit: int = JSON_LIMIT, depth: int = JSON_DEPTH) -> list[Any]:
    text = read_text(path, limit)
    return [parse_json(line, f"{path} line {n}", depth) for n, line in enumerate(text.splitlines(), 1) if line]


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def nesting(value: Any, stop: int) -> int:
    """How deeply lists and mappings nest, counted without recursion and only up to `stop` + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level <= stop:
                stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
