"""The one guarded writer: every file mmgenre writes goes through it.

- A file is written to a temporary name in its folder and renamed when whole, so a crash never leaves half a
  file; `replace=False` never replaces a file that exists (not even one that appears meanwhile).
- An output folder is new, empty, or ours: it holds a marker (`.mmgenre-run`, `.mmgenre-report`, ...) listing
  the files mmgenre wrote there. Only those may be replaced (`overwrite`), and only they; a folder without a
  marker is never written into unless it is empty, whatever its files are called.
- A target that can't be written (no folder, read-only, a file where a folder should be) is one clear error,
  raised before any work starts where the command can check it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path

from mmgenre.files.errors import TargetExists, WriteError, writing
from mmgenre.files.reader import ReadError, is_regular_file, read_json

MARKER_FORMAT = 1
NAME_MAX = 255  # bytes in one file name on Linux and macOS file systems
UMASK = os.umask(0o022)
os.umask(UMASK)


@contextmanager
def atomic_path(path: Path, *, replace: bool = True, option: str = "") -> Iterator[Path]:
    """A temporary path beside `path` for a writer to fill (numpy, matplotlib, pyarrow, ...); it becomes
    `path` when the block ends without error, and is removed otherwise."""
    with writing(path, option):
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(handle, 0o666 & ~UMASK)  # as open() would make it (mkstemp's are private to the user)
        os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with writing(path, option):
            if replace:
                os.replace(temporary, path)
            else:
                link_new(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def link_new(source: Path, path: Path) -> None:
    """Give `source` the name `path` unless `path` exists (EEXIST), without a window where it is half there."""
    try:
        os.link(source, path)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # a file system without links
        with os.fdopen(handle, "wb") as out:
            out.write(source.read_bytes())


def atomic_write(path: Path, data: str | bytes, *, replace: bool = True, option: str = "") -> Path:
    """Write `data` to `path` whole or not at all."""
    with atomic_path(path, replace=replace, option=option) as temporary, writing(path, option):
        temporary.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def new_file(folder: Path, stem: str, suffixes: Iterable[str], data: dict[str, str | bytes] | None = None) -> str:
    """A stem (`stem`, `stem-1`, ...) for which no `stem + suffix` exists in `folder`; reserves it by creating
    the first suffix's file (empty, or `data[suffix]`) so that a concurrent writer picks another."""
    suffixes = list(suffixes)
    for attempt in range(10_000):
        candidate = stem if attempt == 0 else f"{stem}-{attempt}"
        if any((folder / f"{candidate}{s}").exists() for s in suffixes[1:]):
            continue
        try:
            atomic_write(folder / f"{candidate}{suffixes[0]}", (data or {}).get(suffixes[0], b""), replace=False)
            return candidate
        except TargetExists:
            continue
    raise WriteError(f"no free name like {folder / stem} in {folder}")


def check_creatable(path: Path, where: str) -> None:
    """Raise unless `path` (which does not exist) can be created: its nearest existing parent is a writable
    folder."""
    long = next((part for part in path.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if long is not None:
        raise WriteError(f"cannot write {where}: the name {long[:20]}... is too long (at most {NAME_MAX} bytes)")
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise WriteError(f"cannot write {where}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {where}: {parent} is not writable (permission denied)")


def check_writable_folder(path: Path, option: str = "--out") -> None:
    """Raise unless `path` is a writable folder or can be created as one (checked before long work)."""
    where = f"{option} {path}".strip()
    if not os.path.lexists(path):
        check_creatable(path, where)
    elif not path.is_dir():
        raise WriteError(f"{where} is a file, not a folder")
    elif not os.access(path, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {where}: permission denied")


class OutputFolder:
    """A folder a command fills, owned through its marker file `.mmgenre-KIND`."""

    def __init__(self, path: str | Path, kind: str, *, option: str = "--out", legacy_files: Iterable[str] = ()):
        self.path, self.kind, self.option = Path(path), kind, option
        self.marker = self.path / f".mmgenre-{kind}"
        self.legacy_files = frozenset(legacy_files)  # what an empty marker of an older mmgenre stands for

    def is_ours(self) -> bool:
        return is_regular_file(self.marker)

    def check(self, overwrite: bool = True, hint: str = "pass --overwrite to replace its files") -> None:
        """Raise, before any work starts, unless the folder is new, empty, or ours (and `overwrite` when it
        holds anything of ours already)."""
        where = f"{self.option} {self.path}".strip()
        if not os.path.lexists(self.path):
            check_creatable(self.path, where)
            return
        if not self.path.is_dir():
            raise WriteError(f"{where} is a file, not a folder: choose a new folder")
        with writing(self.path, self.option):
            contents = sorted(os.listdir(self.path))
        if contents and not self.is_ours():
            shown = ", ".join(contents[:4]) + (f" and {len(contents) - 4} more" if len(contents) > 4 else "")
            raise WriteError(
                f"{where} is not empty and was not written by mmgenre (it holds {shown}): choose a new or empty "
                "folder; mmgenre never overwrites or deletes what it did not create"
            )
        if not overwrite and set(contents) - {self.marker.name}:
            raise WriteError(f"{where} already holds a {self.kind} written by mmgenre: {hint}")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise WriteError(f"cannot write {where}: permission denied")

    def claim(self, overwrite: bool = True, hint: str = "pass --overwrite to replace its files") -> OutputFolder:
        """Check the folder, create it and mark it as ours."""
        self.check(overwrite, hint)
        with writing(self.path, self.option):
            self.path.mkdir(parents=True, exist_ok=True)
        return self.mark()

    def mark(self) -> OutputFolder:
        """Mark the folder (checked by the caller) as ours."""
        if not self.is_ours():
            self._write_marker(set())
        return self

    def owned(self) -> set[str]:
        """The names of the files mmgenre wrote into this folder."""
        if not self.is_ours():
            return set()
        if self.marker.stat().st_size == 0:
            return set(self.legacy_files)
        try:
            data = read_json(self.marker, limit=4 * 2**20)
        except ReadError:
            return set()
        files = data.get("files") if isinstance(data, dict) else None
        return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()

    def wrote(self, name: str) -> bool:
        """Whether `name` is a file mmgenre wrote here (an older, empty marker stands for `legacy_files`)."""
        if not self.is_ours():
            return False
        owned = self.owned()
        return name in owned or (self.marker.stat().st_size == 0 and any(fnmatch(name, p) for p in owned))

    def target(self, name: str) -> Path:
        """The path of a file this folder may (re)write: new, or one we wrote; anything else is an error."""
        path = self.path / name
        if os.path.lexists(path) and not self.wrote(name):
            raise WriteError(
                f"{path} was not written by mmgenre: it is left as it is (move it, or choose another {self.option})"
            )
        return path

    def write(self, name: str, data: str | bytes) -> Path:
        path = self.target(name)
        atomic_write(path, data, option=self.option)
        self.record([name])
        return path

    @contextmanager
    def file(self, name: str) -> Iterator[Path]:
        """A temporary path that becomes the file `name` of this folder (for writers that want a path)."""
        with atomic_path(self.target(name), option=self.option) as temporary:
            yield temporary
        self.record([name])

    def record(self, names: Iterable[str]) -> None:
        """Add files to what the marker says we wrote (under a lock: writers may share a folder). A folder
        that is not ours stays unmarked: a new file in it does not make the rest ours."""
        if not self.is_ours():
            return
        with writing(self.marker, self.option):
            folder = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)  # the folder, not the marker: the marker is replaced
            self._write_marker(self.owned() | set(names))
        finally:
            os.close(folder)

    def _write_marker(self, names: set[str]) -> None:
        manifest = {"format": MARKER_FORMAT, "kind": self.kind, "files": sorted(names)}
        atomic_write(self.marker, json.dumps(manifest, indent=1), option=self.option)
