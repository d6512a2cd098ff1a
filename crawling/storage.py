"""Storing parsed company pages: companies, their categories and reviews, in batches.

One batch is one transaction: its companies, its reviews (bulk insert / bulk update keyed by
source + review id), the companies' aggregates and the run's counters commit together, so a crash
loses at most the open batch and a rerun stores the rest. A review seen again that has not changed
is not written at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from brands.services import category_upsert
from crawling.services import company_found_store, crawl_run_count
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview
from reviews.services import company_refresh_aggregates

SOURCE = "trustpilot"
COMPARED_FIELDS = (
    "company_id",
    "stars",
    "label",
    "title",
    "text",
    "language",
    "published_at",
    "experienced_at",
    "author_name",
    "author_country",
    "is_verified",
    "reply_text",
)


@dataclass
class StoreResult:
    """What one batch did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    companies_new: int = 0
    companies: set[int] = field(default_factory=set)
    skips: list[dict[str, str]] = field(default_factory=list)


def review_invalid_reason(review: dict[str, Any]) -> str:
    """Why a parsed review cannot be stored ('' when it can)."""
    review_id = review.get("id")
    if not isinstance(review_id, str) or not review_id.strip() or len(review_id) > 100:
        return "review_bad_id"
    rating = review.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        return "review_bad_rating"
    if not isinstance(review.get("text"), str) or not review["text"].strip():
        return "review_empty_text"
    return ""


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string, or None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else timezone.make_aware(parsed, timezone.utc)


class ReviewStore:
    """Writes parsed pages for one crawl (or import): remembers companies and review ids it has seen."""

    def __init__(self, *, run_id: int | None = None, source: str = SOURCE) -> None:
        self.run_id = run_id
        self.source = source
        self.seen: dict[str, int] = {}  # review id -> company id that owns it in this crawl
        self.company_by_key: dict[str, int] = {}
        self.category_by_slug: dict[str, int] = {}

    def store_pages(self, pages: list[dict[str, Any]], *, counters: dict[str, int] | None = None) -> StoreResult:
        """Store a batch of parsed pages (each with its `url`) in one transaction; returns the counts."""
        result = StoreResult()
        with transaction.atomic():
            rows: dict[str, tuple[int, dict[str, Any], str]] = {}
            for page in pages:
                company_id = self._company_id(page, result)
                result.companies.add(company_id)
                for review in page["reviews"]:
                    reason = review_invalid_reason(review)
                    review_id = (review.get("id") or "").strip() if isinstance(review.get("id"), str) else ""
                    if not reason and (review_id in rows or review_id in self.seen):
                        reason = "review_duplicate_id"
                    if reason:
                        result.skipped += 1
                        result.skips.append({"kind": reason, "url": page.get("url", ""), "detail": review_id[:100]})
                        continue
                    rows[review_id] = (company_id, review, page.get("url", ""))
            self._upsert(rows, result)
            company_refresh_aggregates(result.companies)
            if self.run_id is not None:
                counts = {
                    "reviews_new": result.new,
                    "reviews_updated": result.updated,
                    "reviews_unchanged": result.unchanged,
                    "reviews_skipped": result.skipped,
                    "companies_new": result.companies_new,
                    **(counters or {}),
                }
                crawl_run_count(run_id=self.run_id, counts=counts)
        for review_id, (company_id, _, _) in rows.items():
            self.seen[review_id] = company_id
        return result

    def _upsert(self, rows: dict[str, tuple[int, dict[str, Any], str]], result: StoreResult) -> None:
        if not rows:
            return
        existing = {
            row[0]: row[1:]
            for row in ScrapedReview.objects.filter(source=self.source, source_id__in=list(rows)).values_list(
                "source_id", "pk", "crawl_run_id", *COMPARED_FIELDS
            )
        }
        now = timezone.now()
        to_create, to_update = [], []
        for review_id, (company_id, parsed, url) in rows.items():
            values = self._values(company_id, parsed)
            current = existing.get(review_id)
            if current is None:
                to_create.append((review_id, values))
            elif current[2] != company_id:
                # The same id under another company: the first company keeps it, whatever the order.
                result.skipped += 1
                result.skips.append({"kind": "review_duplicate_id", "url": url, "detail": review_id[:100]})
            elif tuple(values.values()) != current[2:]:
                run_id = self.run_id or current[1]
                to_update.append(ScrapedReview(pk=current[0], updated_at=now, crawl_run_id=run_id, **values))
            else:
                result.unchanged += 1
        inserted = self._insert(to_create, now)
        if to_update:
            ScrapedReview.objects.bulk_update(
                to_update, [*COMPARED_FIELDS, "updated_at", "crawl_run_id"], batch_size=500
            )
        result.new += inserted
        result.unchanged += len(to_create) - inserted  # stored meanwhile by another crawl process
        result.updated += len(to_update)

    def _insert(self, rows: list[tuple[str, dict[str, Any]]], now: datetime) -> int:
        """INSERT new reviews with one executemany (Django's bulk_create spends most of its time
        preparing values field by field); a row another process inserted meanwhile is left alone."""
        if not rows:
            return 0
        meta = ScrapedReview._meta
        names = ("source", "source_id", *COMPARED_FIELDS, "crawl_run_id", "excluded", "created_at", "updated_at")
        quote = connection.ops.quote_name
        columns = ", ".join(quote(meta.get_field(name).column) for name in names)
        # Names come from the model's metadata; every value is a query parameter.
        placeholders = ", ".join(["%s"] * len(names))
        conflict = f"{quote('source')}, {quote('source_id')}"
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) ON CONFLICT ({conflict}) DO NOTHING"  # noqa: S608, E501
        adapt = connection.ops.adapt_datetimefield_value
        stamp = adapt(now)
        params = []
        for review_id, values in rows:
            row = [self.source, review_id, *values.values(), self.run_id, False, stamp, stamp]
            row[2 + COMPARED_FIELDS.index("published_at")] = adapt(values["published_at"])
            row[2 + COMPARED_FIELDS.index("experienced_at")] = adapt(values["experienced_at"])
            params.append(row)
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
            count = cursor.rowcount
        return count if count is not None and 0 <= count <= len(rows) else len(rows)

    @staticmethod
    def _values(company_id: int, review: dict[str, Any]) -> dict[str, Any]:
        stars = review["rating"]
        return {
            "company_id": company_id,
            "stars": stars,
            "label": stars_to_label(stars),
            "title": (review.get("title") or "").strip()[:500],
            "text": review["text"].strip(),
            "language": (review.get("language") or "")[:16],
            "published_at": parse_datetime(review.get("published")),
            "experienced_at": parse_datetime(review.get("experienced")),
            "author_name": (review.get("author_name") or "")[:255],
            "author_country": (review.get("author_country") or "")[:8],
            "is_verified": bool(review.get("is_verified")),
            "reply_text": review.get("reply") or "",
        }

    def _company_id(self, page: dict[str, Any], result: StoreResult) -> int:
        """Upsert the page's company once per store (its details come with every page); a new one starts
        closed to reviews."""
        company = page["company"]
        key = (company.get("domain") or page.get("domain") or company["name"]).lower()
        if key in self.company_by_key:
            return self.company_by_key[key]
        fields: dict[str, Any] = {
            "source_id": company.get("id") or "",
            "source_identifier": company.get("domain") or page.get("domain") or "",
            "source_logo_url": (company.get("logo_url") or "")[:500],
        }
        if isinstance(company.get("total_reviews"), int):
            fields["source_review_count"] = company["total_reviews"]
        if isinstance(company.get("trust_score"), int | float):
            fields["source_trust_score"] = float(company["trust_score"])
        row, created = company_found_store(
            name=company["name"][:255],
            domain=company.get("domain") or page.get("domain") or "",
            website=(company.get("website") or "")[:500],
            source=self.source,
            **fields,
        )
        slugs = company.get("category_ids") or []
        names = company.get("categories") or []
        category_ids = [self._category_id(slug, name) for slug, name in zip(slugs, names, strict=False) if slug]
        category_ids += [self._category_id(slug, "") for slug in page.get("category_slugs", [])]
        if category_ids:
            row.categories.add(*[pk for pk in category_ids if pk])
        self.company_by_key[key] = row.pk
        result.companies_new += created
        return row.pk

    def _category_id(self, slug: str, name: str) -> int | None:
        if slug not in self.category_by_slug:
            from brands.models import Category

            found = Category.objects.filter(slug=slug).values_list("pk", flat=True).first()
            if found is None and name:
                found = category_upsert(name=name, slug=slug, source_id=slug).pk
            self.category_by_slug[slug] = found
        return self.category_by_slug[slug]
