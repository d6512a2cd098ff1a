"""In-memory tally of a running crawl (no Django), handed to the database in batches."""

from __future__ import annotations

import threading
from collections import Counter


class CrawlTally:
    """Counters and errors gathered by the spider since the last flush; safe across threads."""

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
            self._errors.append({"kind": kind, "url": url, "detail": detail[:300]})

    def take(self) -> tuple[dict[str, int], list[dict[str, str]]]:
        """Everything gathered since the last call, emptied."""
        with self._lock:
            counts, errors = dict(self._counts), self._errors
            self._counts, self._errors = Counter(), []
        return counts, errors
