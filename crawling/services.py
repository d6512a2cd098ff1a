"""Writes for crawls: the one crawling module that writes CrawlRun rows (core.jobs moves their status)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from brands.models import Company
from brands.selectors import company_matching
from brands.services import company_upsert
from core.errors import StarlingError
from core.jobs import enqueue_run, job_run_retry, job_runs_reap_silent
from core.values import parse_yes_no
from crawling.models import CrawlRun
from crawling.options import DEFAULT_START_URL, LIST_OPTIONS, NUMBER_OPTIONS

logger = logging.getLogger(__name__)

CRAWL_JOB = "crawling.jobs.crawl_run_job"
CRAWL_QUEUE = "crawl"
LAST_ERRORS_PER_KIND = 5  # the latest few URLs of each kind, so a flood of one kind hides no other
LAST_ERRORS_KEPT = 100


class CrawlFailed(StarlingError):
    """A crawl could not finish; the message is the one line staff read on the run."""

    code = "crawl_failed"


def crawl_params_clean(params: dict[str, Any]) -> dict[str, Any]:
    """Check a crawl's options against crawling.options and fill in defaults; raise ValidationError per field."""
    errors: dict[str, str] = {}
    start_url = str(params.get("start_url") or DEFAULT_START_URL).strip().rstrip("/")
    parts = urlsplit(start_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["start_url"] = f"Give an http(s) address such as {DEFAULT_START_URL} (got {start_url!r})."
    cleaned: dict[str, Any] = {"start_url": start_url}
    for option in LIST_OPTIONS:
        value = params.get(option.name) or []
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        cleaned[option.name] = sorted({str(v).strip() for v in value if str(v).strip()})
        if len(cleaned[option.name]) > option.max_items:
            errors[option.name] = f"Give at most {option.max_items} {option.name} (got {len(cleaned[option.name])})."
    for option in NUMBER_OPTIONS:
        value = params.get(option.name)
        if value in (None, ""):
            cleaned[option.name] = option.default() if option.default is not None else None
            continue
        kind = "whole number" if option.type is int else "number"
        try:
            number = option.type(value)
        except (TypeError, ValueError):
            errors[option.name] = f"{option.name} must be a {kind} (got {value!r})."
            continue
        if number < option.minimum:
            errors[option.name] = f"{option.name} must be at least {option.minimum} (got {number})."
        elif number > option.maximum:
            errors[option.name] = f"{option.name} must be at most {option.maximum} (got {number})."
        cleaned[option.name] = number
    # `reviews_only` was the same as `no_browser`; runs recorded with it are retried as no_browser.
    flags = [parse_yes_no(params.get(name) or False) for name in ("no_browser", "reviews_only")]
    if None in flags:
        errors["no_browser"] = f"no_browser must be yes or no (got {params.get('no_browser')!r})."
    cleaned["no_browser"] = any(flags)
    if errors:
        raise ValidationError(errors)
    return cleaned


def crawl_run_create(*, params: dict[str, Any], parent: CrawlRun | None = None, **fields: Any) -> CrawlRun:
    """Record a queued crawl with checked options (not started)."""
    return CrawlRun.objects.create(params=crawl_params_clean(params), parent=parent, **fields)


def crawl_run_enqueue(run: CrawlRun) -> CrawlRun:
    """Put a queued crawl run on the "crawl" queue (pushed on commit inside a transaction)."""
    return enqueue_run(run, CRAWL_JOB, queue=CRAWL_QUEUE)


def crawl_run_start(*, params: dict[str, Any], user=None) -> CrawlRun:
    """Create a crawl run from the options and queue it on the "crawl" queue; returns the run."""
    started_by = user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""
    run = crawl_run_create(params=params, progress_message=f"started by {started_by}" if started_by else "")
    return crawl_run_enqueue(run)


def crawl_run_start_here(*, params: dict[str, Any]) -> CrawlRun:
    """Record a crawl that this process runs itself (`manage.py crawl` in the foreground), already running."""
    return CrawlRun.start_here(params=crawl_params_clean(params))


def crawl_run_retry(*, run: CrawlRun, user=None) -> CrawlRun:
    """Start a new crawl with the same options as a finished one; refused while it is unfinished."""
    return job_run_retry(run, lambda: crawl_run_start(params=run.params, user=user))


def crawl_runs_mark_abandoned(*, stale_after: float = 600.0) -> int:
    """Fail foreground crawls (no job) that stopped reporting for `stale_after` seconds; returns how many."""
    return job_runs_reap_silent(CrawlRun, stale_after=stale_after)


def crawl_run_fan_out(*, run: CrawlRun, domains: list[str], batch_size: int) -> list[CrawlRun]:
    """Split a crawl's review stage into one queued run (and RQ job) per batch of companies; returns them."""
    chunks = [domains[i : i + batch_size] for i in range(0, len(domains), batch_size)]
    with transaction.atomic():  # every batch or none; the jobs are pushed once they all exist
        children = [
            crawl_run_enqueue(
                crawl_run_create(
                    params={**run.params, "companies": chunk, "max_companies": None},
                    parent=run,
                    companies_total=len(chunk),
                )
            )
            for chunk in chunks
        ]
        run.record_progress(1.0, f"fanned out: {len(domains)} companies in {len(chunks)} jobs")
    return children


def crawl_run_count(*, run_id: int, counts: dict[str, int]) -> None:
    """Add to a run's counters in one UPDATE (safe with concurrent writers and inside a caller's transaction)."""
    increments = {field: F(field) + n for field, n in counts.items() if n}
    if increments:
        CrawlRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **increments)


def crawl_run_record_errors(*, run_id: int, errors: Iterable[dict[str, str]]) -> None:
    """Count errors by kind on the run and keep the most recent few of each kind with their URLs."""
    errors = list(errors)
    if not errors:
        return
    with transaction.atomic():
        run = CrawlRun.objects.select_for_update().get(pk=run_id)
        by_kind = dict(run.errors_by_kind or {})
        for error in errors:
            by_kind[error["kind"]] = by_kind.get(error["kind"], 0) + 1
        stamped = [{**error, "at": timezone.now().isoformat(timespec="seconds")} for error in errors]
        last = _latest_per_kind([*(run.last_errors or []), *stamped])
        CrawlRun.objects.filter(pk=run_id).update(errors_by_kind=by_kind, last_errors=last, heartbeat_at=timezone.now())


def _latest_per_kind(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """The newest LAST_ERRORS_PER_KIND errors of each kind (at most LAST_ERRORS_KEPT), oldest first."""
    kept: list[dict[str, str]] = []
    per_kind: dict[str, int] = {}
    for error in reversed(errors):
        seen = per_kind.get(error["kind"], 0)
        if seen < LAST_ERRORS_PER_KIND:
            per_kind[error["kind"]] = seen + 1
            kept.append(error)
    return kept[:LAST_ERRORS_KEPT][::-1]


def crawl_run_record_progress(
    *, run_id: int, progress: float | None = None, message: str | None = None, **fields: int
) -> None:
    """Record how far the run is (0..1), what it is doing and counts it sets (companies_found, companies_total)."""
    CrawlRun(pk=run_id).record_progress(progress, message, **fields)


def company_found_store(*, name: str, domain: str = "", **fields: Any) -> tuple[Company, bool]:
    """Create or update a company the crawler (or `import_pages`) found; returns it and whether it is new.

    A company seen for the first time starts closed to reviews (inactive): a crawl can find thousands
    of businesses, and staff open the ones the site should offer. One already known keeps its state.
    """
    created = company_matching(domain=domain or str(fields.get("website") or ""), name=name) is None
    if created:
        fields["is_active"] = False
    return company_upsert(name=name, domain=domain, **fields), created


def companies_discovered_store(*, category, companies: list[dict[str, str]]) -> int:
    """Store companies found on a sub-category page (new ones closed to reviews) and link them to it;
    returns how many were new."""
    new = 0
    with transaction.atomic():
        for found in companies:
            company, created = company_found_store(
                name=found["name"] or found["domain"],
                domain=found["domain"],
                source="trustpilot",
                source_identifier=found["domain"],
            )
            company.categories.add(category)
            new += created
    return new
