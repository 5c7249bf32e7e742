"""Progress of long stages, the same for every executor: a bar on a terminal, otherwise a log line every
~30 s with done/total, rate and time left (so CI logs and files show that a run is alive), and one line
when a stage that did any work ends: what it did, in how long (where the time of a run went)."""

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
        self,
        total: int,
        description: str,
        enabled: bool | None = None,
        unit: str = "poster",
        every: float = LOG_EVERY,
        *,
        summary: bool = True,
    ) -> None:
        self.total, self.description, self.unit, self.every, self.summary = total, description, unit, every, summary
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

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        if self.summary and self.done and exc[0] is None:
            seconds = self.seconds
            rate = self.done / max(seconds, 1e-9)
            items = f"{self.done:,} {self.unit}" + ("" if self.done == 1 else "s")
            log.info("%s: done, %s in %.1f s (%.1f/s)", self.description, items, seconds, rate)


def progress_bar(total: int, description: str, enabled: bool | None = None, unit: str = "poster") -> Progress:
    """A bar for a short repeated step (an epoch): no summary line when it ends."""
    return Progress(total, description, enabled, unit, summary=False)
