"""OSErrors from writing, turned into one line a user can act on."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmgenre.errors import MmgenreError

REASONS = {
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "it already exists",
    errno.ELOOP: "it is a loop of symbolic links",
}


class WriteError(MmgenreError):
    """A target that cannot (or may not) be written."""


class TargetExists(WriteError):
    """A new file was asked for and one is there already."""


def describe(error: OSError) -> str:
    return REASONS.get(error.errno or 0, error.strerror or str(error))


@contextmanager
def writing(path: Path, option: str = "") -> Iterator[None]:
    """Turn the OSError (or ValueError: a NUL in the name) of writing `path` into a WriteError naming it."""
    what = f"{option} {path}".strip()
    try:
        yield
    except OSError as error:
        kind = TargetExists if error.errno == errno.EEXIST else WriteError
        raise kind(f"cannot write {what}: {describe(error)}") from None
    except ValueError as error:  # "embedded null byte"
        raise WriteError(f"cannot write {what}: {error}") from None
