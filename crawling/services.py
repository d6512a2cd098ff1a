"""Writes for crawls: starting a crawl run, executing it, and the counters staff watch."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.jobs import enqueue_run
from crawling.models import CrawlRun

logger = logging.getLogger(__name__)

DEFAULT_START_URL = "https://www.trustpilot.com"
CRAWL_JOB = "crawling.jobs.crawl_run_job"
CRAWL_QUEUE = "crawl"
LAST_ERRORS_KEPT = 50


def crawl_params_clean(params: dict[str, Any]) -> dict[str, Any]:
    """Check a crawl's options and fill in defaults; raise ValidationError saying what is wrong."""
    errors: dict[str, str] = {}
    start_url = str(params.get("start_url") or DEFAULT_START_URL).strip().rstrip("/")
    parts = urlsplit(start_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["start_url"] = f"Give an http(s) address such as {DEFAULT_START_URL} (got {start_url!r})."

    def _int(name: str, *, minimum: int = 1) -> int | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[name] = f"{name} must be a whole number (got {value!r})."
            return None
        if number < minimum:
            errors[name] = f"{name} must be at least {minimum} (got {number})."
        return number

    def _words(name: str) -> list[str]:
        value = params.get(name) or []
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        return sorted({str(v).strip() for v in value if str(v).strip()})

    cleaned = {
        "start_url": start_url,
        "categories": _words("categories"),
        "companies": _words("companies"),
        "max_companies": _int("max_companies"),
        "max_pages": _int("max_pages"),
        "concurrency": _int("concurrency") or settings.CRAWL_CONCURRENCY,
        "no_browser": bool(params.get("no_browser", False)),
        "reviews_only": bool(params.get("reviews_only", False)),
    }
    render_timeout = params.get("render_timeout")
    if render_timeout not in (None, ""):
        try:
            cleaned["render_timeout"] = float(render_timeout)
        except (TypeError, ValueError):
            errors["render_timeout"] = f"render_timeout must be a number of seconds (got {render_timeout!r})."
    if errors:
        raise ValidationError(errors)
    return cleaned


def crawl_run_create(*, params: dict[str, Any], parent: CrawlRun | None = None) -> CrawlRun:
    """Record a queued crawl with checked options (not started)."""
    return CrawlRun.objects.create(params=crawl_params_clean(params), parent=parent)


def crawl_run_start(*, params: dict[str, Any], user=None) -> CrawlRun:
    """Create a crawl run from the options and queue it on the "crawl" queue; returns the run."""
    run = crawl_run_create(params=params)
    if user is not None and getattr(user, "is_authenticated", False):
        CrawlRun.objects.filter(pk=run.pk).update(progress_message=f"started by {user.get_username()}")
    enqueue_run(run, CRAWL_JOB, queue=CRAWL_QUEUE)
    return run


def crawl_run_execute(run: CrawlRun) -> None:
    """Run every stage of the crawl in this process, recording progress on the run."""
    from crawling.runner import crawl_execute

    crawl_execute(run)


def crawl_runs_mark_abandoned(*, stale_after: float = 600.0) -> int:
    """Mark foreground crawls (no job) that stopped reporting as failed; returns how many.

    A `manage.py crawl` killed mid-run cannot record its end. Its heartbeat (written with every
    batch and every listing page) tells: silent for `stale_after` seconds means abandoned. Crawls
    run by a worker are the worker's to reap (core.jobs.job_runs_reap).
    """
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    return CrawlRun.objects.filter(status=CrawlRun.Status.RUNNING, job_id="", heartbeat_at__lt=cutoff).update(
        status=CrawlRun.Status.FAILED,
        error=f"Abandoned: its process stopped reporting for more than {stale_after:g} s (killed?).",
        finished_at=timezone.now(),
    )


def crawl_run_retry(*, run: CrawlRun, user=None) -> CrawlRun:
    """Start a new crawl with the same options as a finished one."""
    if not run.is_finished:
        raise ValidationError(f"Crawl #{run.pk} is still {run.status}; retry it once it has finished.")
    return crawl_run_start(params=run.params, user=user)


def crawl_run_count(*, run_id: int, counts: dict[str, int]) -> None:
    """Add to a run's counters in one UPDATE (safe with concurrent writers)."""
    increments = {field: F(field) + n for field, n in counts.items() if n}
    if increments:
        CrawlRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **increments)


def crawl_run_record_errors(*, run_id: int, errors: Iterable[dict[str, str]]) -> None:
    """Count errors by kind on the run and keep the most recent ones with their URLs."""
    errors = list(errors)
    if not errors:
        return
    with transaction.atomic():
        run = CrawlRun.objects.select_for_update().get(pk=run_id)
        by_kind = dict(run.errors_by_kind or {})
        for error in errors:
            by_kind[error["kind"]] = by_kind.get(error["kind"], 0) + 1
        stamped = [{**error, "at": timezone.now().isoformat(timespec="seconds")} for error in errors]
        last = [*(run.last_errors or []), *stamped][-LAST_ERRORS_KEPT:]
        CrawlRun.objects.filter(pk=run_id).update(errors_by_kind=by_kind, last_errors=last, heartbeat_at=timezone.now())


def crawl_run_set_progress(*, run_id: int, progress: float, message: str = "", **fields: int) -> None:
    """Record how far the run is (0..1) and what it is doing."""
    CrawlRun.objects.filter(pk=run_id).update(
        progress=max(0.0, min(1.0, progress)), progress_message=message[:255], heartbeat_at=timezone.now(), **fields
    )


def companies_discovered_store(*, category, companies: list[dict[str, str]]) -> list[int]:
    """Upsert companies found on a sub-category page and link them to it, in one transaction."""
    from brands.services import company_upsert

    ids = []
    with transaction.atomic():
        for found in companies:
            company = company_upsert(
                name=found["name"] or found["domain"],
                domain=found["domain"],
                source="trustpilot",
                source_identifier=found["domain"],
            )
            company.categories.add(category)
            ids.append(company.pk)
    return ids


def pages_import(*, paths: Iterable[Any], batch_pages: int = 20) -> dict[str, Any]:
    """Store saved company pages (.html / .html.gz) through the crawler's parser and storage.

    Returns {"pages", "new", "updated", "unchanged", "skipped", "failed": [(path, reason)]}; a
    file that cannot be read or parsed is reported and the others are still imported.
    """
    import gzip
    from pathlib import Path

    from crawling.parsing import PageParseError, company_review_url, parse_company_page
    from crawling.storage import ReviewStore

    store = ReviewStore()
    totals: dict[str, Any] = {"pages": 0, "new": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": []}
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        result = store.store_pages(batch)
        for key in ("new", "updated", "unchanged", "skipped"):
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
