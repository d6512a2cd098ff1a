"""What a running crawl counts (CrawlRun counters, errors by kind with their URLs), handed to the database in batches.

Two tallies with the same three calls (`add`, `error`, `take`): `CrawlTally` in memory for the stages
outside Scrapy (categories, discovery), `CrawlStats` on a Scrapy crawler's stats collector, which its
spider, middleware and pipeline share (no Django in either).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Protocol

COUNT_PREFIX = "starling/count/"
ERROR_PREFIX = "starling/errors/"
PENDING_ERRORS = "starling/pending_errors"
# Set by the pipeline when the database refused a batch: the one-line reason the crawl fails with.
DATABASE_ERROR = "starling/database_error"


class CrawlConsole(Protocol):
    """What a crawl tells the person watching it in a terminal (`manage.py crawl`); a queued job has none."""

    def progress(self, stage: str, done: int, total: int) -> None:
        """`done` of `total` (0: unknown) in a stage: categories, discovery, reviews."""

    def waiting(self, stage: str, what: str) -> None:
        """What the stage is waiting on right now (shown beside its bar, replaced by the next)."""

    def notice(self, text: str) -> None:
        """One line worth reading now (a page that never rendered), printed above the bars."""


def _error(kind: str, url: str, detail: str) -> dict[str, str]:
    return {"kind": kind, "url": url, "detail": detail[:300]}


class CrawlTally:
    """Counters and errors gathered since the last flush; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._errors: list[dict[str, str]] = []

    def add(self, counter: str, n: int = 1) -> None:
        """Add `n` to a CrawlRun counter field (pages_fetched, companies_done, ...)."""
        with self._lock:
            self._counts[counter] += n

    def error(self, kind: str, url: str, detail: str = "") -> None:
        """Record one failure of a kind (http_500, timeout, parse, robots, ...) with its URL."""
        with self._lock:
            self._errors.append(_error(kind, url, detail))

    def take(self) -> tuple[dict[str, int], list[dict[str, str]]]:
        """Everything gathered since the last call, emptied."""
        with self._lock:
            counts, errors = dict(self._counts), self._errors
            self._counts, self._errors = Counter(), []
        return counts, errors


class CrawlStats:
    """A Scrapy crawl's tally, kept in its stats collector ("starling/count/<counter>", "starling/errors/<kind>").

    Counters are running totals, so Scrapy's closing stats show them; errors with their URLs wait
    under PENDING_ERRORS until taken. All calls happen on the reactor thread; the crawl's pipeline
    is the one that takes.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self._taken: Counter[str] = Counter()

    def add(self, counter: str, n: int = 1) -> None:
        """Add `n` to a CrawlRun counter field (pages_fetched, companies_done)."""
        self.stats.inc_value(COUNT_PREFIX + counter, n)

    def error(self, kind: str, url: str, detail: str = "") -> None:
        """Record one failure of a kind with its URL."""
        self.stats.inc_value(ERROR_PREFIX + kind)
        pending = self.stats.get_value(PENDING_ERRORS)
        if pending is None:
            pending = []
            self.stats.set_value(PENDING_ERRORS, pending)
        pending.append(_error(kind, url, detail))

    def take(self) -> tuple[dict[str, int], list[dict[str, str]]]:
        """The counters' growth and the errors since the last call."""
        counts = {}
        for key, total in self.stats.get_stats().items():
            if key.startswith(COUNT_PREFIX):
                counter = key.removeprefix(COUNT_PREFIX)
                if total > self._taken[counter]:
                    counts[counter], self._taken[counter] = total - self._taken[counter], total
        errors = self.stats.get_value(PENDING_ERRORS) or []
        self.stats.set_value(PENDING_ERRORS, [])
        return counts, errors
