"""Progress of long stages, the same for every executor: a bar on a terminal, otherwise a log line every
~30 s with done/total, rate and time left (so CI logs and files show that a run is alive)."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("mmgenre")
LOG_EVERY = 30.0  # seconds between progress lines when stderr is not a terminal


class Progress:
    """Counts work done on one stage; use as a context manager and call `update(n)`."""

    def __init__(
        self, total: int, description: str, enabled: bool | None = None, unit: str = "poster", every: float = LOG_EVERY
    ) -> None:
        self.total, self.description, self.unit, self.every = total, description, unit, every
        terminal = sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            desc=description,
            unit=unit,
            disable=not (terminal if enabled is None else enabled),
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
        )
        self.logs = enabled is None and not terminal  # no bar: say how it goes in the log instead
        self.done = 0
        self.started = self.last = time.monotonic()

    def update(self, count: int = 1) -> None:
        self.done += count
        self.bar.update(count)
        now = time.monotonic()
        if self.logs and now - self.last >= self.every:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "unknown" if left == float("inf") else f"{left / 60:.1f} min" if left >= 60 else f"{left:.0f} s"
        return f"{self.description}: {self.done:,}/{self.total:,} {self.unit}s, {rate:.1f}/s, {eta} left"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def progress_bar(total: int, description: str, enabled: bool | None = None, unit: str = "poster") -> Progress:
    return Progress(total, description, enabled, unit)
