"""A record of what was skipped and why: each skip is logged when it happens and summarised at the end."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("mmgenre")


@dataclass(frozen=True)
class Skip:
    where: str  # a file or "labels.csv line N"
    category: str  # short reason used in the summary, e.g. "corrupt image"
    detail: str


@dataclass
class SkipLog:
    """Collects skipped inputs; `summary()` counts them by reason."""

    skips: list[Skip] = field(default_factory=list)

    def skip(self, where: str, category: str, detail: str = "", expected: bool = False) -> None:
        """Record a skip (once per input and reason, however many stages hit it); `expected` ones (a filter
        doing its job, not bad input) are only counted."""
        if any(s.where == where and s.category == category for s in self.skips):
            return
        self.skips.append(Skip(where, category, detail))
        level = logging.DEBUG if expected else logging.WARNING
        log.log(level, "%s: %s%s, skipped", where, category, f" ({detail})" if detail else "")

    def extend(self, other: SkipLog) -> None:
        self.skips.extend(other.skips)

    def counts(self) -> dict[str, int]:
        return dict(Counter(s.category for s in self.skips).most_common())

    def summary(self, total: int, what: str = "posters") -> str:
        if not self.skips:
            return f"all {total:,} {what} usable"
        reasons = ", ".join(f"{n} {category}" for category, n in self.counts().items())
        return f"skipped {len(self.skips):,} of {total:,} {what}: {reasons}"

    def __len__(self) -> int:
        return len(self.skips)
