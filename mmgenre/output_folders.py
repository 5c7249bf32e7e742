"""Output folders mmgenre writes into: only new ones, empty ones, or its own (marked) ones replaced on purpose.

A folder mmgenre fills gets a marker file (`.mmgenre-run`, `.mmgenre-report`, ...); a folder without one is
never written into unless it is empty, so `--out` pointed at a dataset or a home folder loses nothing.
"""

from __future__ import annotations

from pathlib import Path

from mmgenre.errors import MmgenreError


def is_marked(path: Path, marker: str) -> bool:
    return (path / marker).is_file()


def check_output_folder(
    path: Path, marker: str, *, option: str = "--out", overwrite: bool = True, ours: bool | None = None
) -> None:
    """Raise, before any work starts, unless `path` is new, empty, or ours (with `overwrite` when that is asked)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise MmgenreError(f"{option} {path} is a file, not a folder: choose a new folder")
    contents = sorted(p.name for p in path.iterdir())
    if not contents:
        return
    if not (is_marked(path, marker) if ours is None else ours):
        shown = ", ".join(contents[:4]) + (f" and {len(contents) - 4} more" if len(contents) > 4 else "")
        raise MmgenreError(
            f"{option} {path} is not empty and was not written by mmgenre (it holds {shown}): "
            "choose a new or empty folder; mmgenre never overwrites or deletes what it did not create"
        )
    if not overwrite:
        raise MmgenreError(f"{option} {path} already holds a run: pass --overwrite to replace its run files")


def claim_output_folder(path: Path, marker: str, *, option: str = "--out") -> Path:
    """Check `path` (an earlier output of ours may be refreshed), create it and mark it as ours."""
    check_output_folder(path, marker, option=option)
    path.mkdir(parents=True, exist_ok=True)
    (path / marker).touch()
    return path
