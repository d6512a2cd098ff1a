"""Item pipeline: hands parsed pages to the storage service in batches, on one database thread.

Scrapy runs on the Twisted reactor (an asyncio loop), where Django refuses synchronous ORM calls.
So every database call happens on a dedicated single thread (which also keeps batches in order);
the reactor only waits for the batch to commit, which gives natural back-pressure.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import close_old_connections, connection
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor, task
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from crawling.progress import DATABASE_ERROR, CrawlStats
from crawling.services import crawl_run_record_errors, crawl_run_record_progress
from crawling.storage import ReviewStore

logger = logging.getLogger(__name__)


class StorePipeline:
    """Buffers pages and stores them (with the run's counters) one batch per transaction."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.run_id: int | None = crawler.settings.get("STARLING_RUN_ID")
        self.batch_size: int = crawler.settings.getint("STARLING_BATCH_SIZE", 500)
        self.flush_interval: float = crawler.settings.getfloat("STARLING_FLUSH_SECONDS", 2.0)
        self.companies_total: int = crawler.settings.getint("STARLING_COMPANIES_TOTAL", 0)
        # callable(stage, done, total) for a progress bar, called from the database thread
        self.progress = crawler.settings.get("STARLING_PROGRESS")
        self.buffer: list[dict[str, Any]] = []
        self.buffered_reviews = 0
        self.done: int = crawler.settings.getint("STARLING_COMPANIES_DONE", 0)  # skipped before the crawl

    @classmethod
    def from_crawler(cls, crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        self.store = ReviewStore(run_id=self.run_id)
        self.tally = CrawlStats(self.crawler.stats)
        self.pool = ThreadPool(minthreads=1, maxthreads=1, name="starling-db")
        self.pool.start()
        self.pending: list = []  # batches handed to the database thread, oldest first
        self.ticker = task.LoopingCall(self._flush)
        self.ticker.start(self.flush_interval, now=False)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        self.buffer.append(dict(item))
        self.buffered_reviews += len(item["reviews"]) or 1
        if self.buffered_reviews >= self.batch_size:
            self._flush()
            # Parsing goes on while one batch is written; with more waiting, wait for the oldest.
            while len(self.pending) > 1:
                await maybe_deferred_to_future(self.pending[0])
        return item

    async def close_spider(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        try:
            self._flush()
            while self.pending:
                await maybe_deferred_to_future(self.pending[0])
            await maybe_deferred_to_future(deferToThreadPool(reactor, self.pool, _close_connection))
        finally:
            self.pool.stop()

    def _flush(self) -> None:
        """Hand the buffered pages and what the crawl counted since to the database thread (in order)."""
        pages, self.buffer, self.buffered_reviews = self.buffer, [], 0
        counts, errors = self.tally.take()
        if not pages and not counts and not errors:
            return
        done = deferToThreadPool(reactor, self.pool, self._write, pages, counts, errors)
        self.pending.append(done)

        def finished(result):
            self.pending.remove(done)
            if isinstance(result, Failure):
                # The database refused a batch: stop the crawl; the runner fails the run with this line.
                logger.error("Storing a batch failed:\n%s", result.getTraceback())
                reason = " ".join(f"{result.type.__name__}: {result.getErrorMessage()}".split())
                self.crawler.stats.set_value(DATABASE_ERROR, reason)
                reactor.callLater(0, self.crawler.stop)
                return None
            return result

        done.addBoth(finished)

    def _write(self, pages: list[dict[str, Any]], counts: dict[str, int], errors: list[dict[str, str]]) -> None:
        """Runs on the database thread: one transaction for the pages and counters, then errors."""
        close_old_connections()
        result = self.store.store_pages(pages, counters=counts)
        if self.run_id is None:
            return
        crawl_run_record_errors(run_id=self.run_id, errors=[*errors, *result.skips])
        self.done += counts.get("companies_done", 0)
        if self.progress is not None:
            self.progress("reviews", self.done, self.companies_total)
        if self.companies_total:
            crawl_run_record_progress(
                run_id=self.run_id,
                progress=0.1 + 0.9 * self.done / self.companies_total,
                message=f"reviews: {self.done} of {self.companies_total} companies done",
            )


def _close_connection() -> None:
    """Close the database thread's own connection (run on that thread)."""
    connection.close()
