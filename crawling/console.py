"""What `manage.py crawl` and `import_pages` print: progress bars, notices, the closing summary; the crawler's
own log lines (Scrapy, Twisted, Selenium, tracebacks) go to a file instead of the console."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from tqdm import tqdm

from crawling.models import CrawlRun

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LATEST_URLS_SHOWN = 3


def crawl_log_path(run_id: int) -> Path:
    """Where a crawl's own log is written: var/log/crawl-<run id>.log (STARLING_VAR_DIR moves var/)."""
    return Path(settings.VAR_DIR) / "log" / f"crawl-{run_id}.log"


def _is_console(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    terminals = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    return (
        isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and (stream in terminals)
    )


@contextmanager
def crawler_log(path: Path) -> Iterator[Path]:
    """While a crawl runs, send every log record to `path` instead of the terminal; yields the path.

    Scrapy's start-up lines, retries given up, Selenium and tracebacks are for whoever debugs the crawl;
    the person watching sees the bars and the summary, which names this file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    muted: list[tuple[logging.Logger, logging.Handler]] = []
    writing = [root]
    for logger in loggers:
        consoles = [handler for handler in logger.handlers if _is_console(handler)]
        for handler in consoles:
            logger.removeHandler(handler)
            muted.append((logger, handler))
        if consoles and logger is not root:
            writing.append(logger)  # a logger that does not propagate (django) keeps its records too
    for logger in writing:
        logger.addHandler(to_file)
    try:
        yield path
    finally:
        for logger in writing:
            logger.removeHandler(to_file)
        for logger, handler in muted:
            logger.addHandler(handler)
        to_file.close()


class CrawlBars:
    """A crawl's console (crawling.progress.CrawlConsole): one tqdm bar per stage and notices above them."""

    def __init__(self, stream: IO[str], *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.bars: dict[str, tqdm] = {}

    def _bar(self, stage: str, total: int = 0) -> tqdm:
        bar = self.bars.get(stage)
        if bar is None:
            for earlier in self.bars.values():  # a new stage: the earlier bars are finished
                earlier.close()
            counted = "{n_fmt}/{total_fmt} companies [{elapsed}<{remaining}]" if total else "{n_fmt} pages [{elapsed}]"
            bar = self.bars[stage] = tqdm(
                total=total or None,
                desc=stage,
                bar_format="{desc}: " + ("{percentage:3.0f}%|{bar}| " if total else "") + counted + "{postfix}",
                file=self.stream,
                disable=self.quiet,
                dynamic_ncols=True,
            )
        return bar

    def progress(self, stage: str, done: int, total: int) -> None:
        bar = self._bar(stage, total)
        bar.update(done - bar.n)
        bar.set_postfix_str("", refresh=False)

    def waiting(self, stage: str, what: str) -> None:
        self._bar(stage).set_postfix_str(what)

    def notice(self, text: str) -> None:
        if not self.quiet:
            tqdm.write(text, file=self.stream)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def reviews_read_line(run: CrawlRun) -> str:
    """A run's review counts as one line: 'read 120 · new 0 · updated 0 · unchanged 120 · skipped 0'."""
    new, updated, unchanged, skipped = run.reviews_new, run.reviews_updated, run.reviews_unchanged, run.reviews_skipped
    read = new + updated + unchanged + skipped
    return f"read {read} · new {new} · updated {updated} · unchanged {unchanged} · skipped {skipped}"


def new_companies_note(count: int) -> str:
    """What to do about companies seen for the first time: they wait, closed to reviews, for staff."""
    noun = "company starts" if count == 1 else "companies start"
    return (
        f"{count} new {noun} closed to reviews: open the ones to offer in the admin "
        "(Brands › Companies, filter “open to reviews: Closed”, action “Open to reviews”)."
    )


def crawl_summary(run: CrawlRun, *, log_path: Path | None = None) -> str:
    """The closing summary: reviews read, companies, errors by kind (most first) with their latest URLs."""
    lines = [
        f"Crawl #{run.pk}: {run.status}",
        f"  reviews    {reviews_read_line(run)}",
        f"  companies  found {run.companies_found} · crawled {run.companies_done} of {run.companies_total}"
        f" · new {run.companies_new}",
        f"  pages      fetched {run.pages_fetched}",
    ]
    groups = run.error_groups()
    if groups:
        lines.append(f"  errors     {sum(group['count'] for group in groups)}")
        for group in groups:
            lines.append(f"    {group['kind']:<22} {group['count']}")
            urls = dict.fromkeys(error.get("url", "") for error in group["latest"])
            lines.extend(f"      {url}" for url in list(urls)[:LATEST_URLS_SHOWN])
    if run.companies_new:
        lines.append("  " + new_companies_note(run.companies_new))
    if log_path is not None:
        lines.append(f"  crawler log: {log_path}")
    return "\n".join(lines)
