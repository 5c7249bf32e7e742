"""Progress bars on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, enabled: bool | None = None, unit: str = "poster") -> tqdm:
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(
        total=total, desc=description, unit=unit, disable=not show, file=sys.stderr, dynamic_ncols=True, leave=False
    )
