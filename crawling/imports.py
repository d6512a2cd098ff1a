"""Importing saved company pages (.html / .html.gz) through the crawler's parser and storage."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crawling.options import DEFAULT_START_URL
from crawling.parsing import PageParseError, company_review_url, parse_company_page
from crawling.storage import ReviewStore


def pages_import(*, paths: Iterable[Any], batch_pages: int = 20) -> dict[str, Any]:
    """Store saved company pages through the crawler's parser and storage; returns the totals.

    Returns {"pages", "new", "updated", "unchanged", "skipped", "companies_new", "failed": [(path, reason)]};
    a file that cannot be read or parsed is reported and the others are still imported. Companies seen for
    the first time start closed to reviews.
    """
    store = ReviewStore()
    totals: dict[str, Any] = {
        "pages": 0,
        "new": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "companies_new": 0,
        "failed": [],
    }
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        result = store.store_pages(batch)
        for key in ("new", "updated", "unchanged", "skipped", "companies_new"):
            totals[key] += getattr(result, key)
        batch.clear()

    for path in map(Path, paths):
        hint = path.name.removesuffix(".gz").removesuffix(".html").split("_")[0]
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            page = parse_company_page(raw.decode("utf-8"), url=company_review_url(DEFAULT_START_URL, hint))
        except (OSError, UnicodeDecodeError, EOFError, PageParseError) as exc:
            totals["failed"].append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        page["domain"] = page["company"]["domain"] or hint
        page["url"] = str(path)
        batch.append(page)
        totals["pages"] += 1
        if len(batch) >= batch_pages:
            flush()
    if batch:
        flush()
    return totals
