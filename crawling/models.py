"""A crawl of the review site, as staff see it in the admin."""

from __future__ import annotations

from django.db import models

from core.jobs import JobRun


class CrawlRun(JobRun):
    """One crawl: its options, live counters, the last errors and its outcome."""

    pages_fetched = models.PositiveIntegerField(default=0)
    companies_found = models.PositiveIntegerField(default=0)
    companies_done = models.PositiveIntegerField(default=0)
    companies_total = models.PositiveIntegerField(default=0)
    companies_new = models.PositiveIntegerField(
        default=0, help_text="Companies seen for the first time; they start closed to reviews until staff open them."
    )
    reviews_new = models.PositiveIntegerField(default=0)
    reviews_updated = models.PositiveIntegerField(default=0)
    reviews_unchanged = models.PositiveIntegerField(default=0, help_text="Reviews read again exactly as stored.")
    reviews_skipped = models.PositiveIntegerField(default=0)
    errors_by_kind = models.JSONField(default=dict, blank=True, help_text="How many errors of each kind.")
    last_errors = models.JSONField(
        default=list, blank=True, help_text="The latest few errors of each kind, with their URLs."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="batches",
        help_text="The crawl this batch of companies belongs to, when a large crawl fans out.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Crawl #{self.pk} ({self.status})"

    def error_groups(self, *, latest: int = 5) -> list[dict]:
        """Errors by kind, most frequent first: [{kind, count, latest: [error, ...] newest first}].

        Counts come from `errors_by_kind` (every error); URLs from `last_errors` (the most recent ones).
        """
        recent: dict[str, list[dict]] = {}
        for error in reversed(self.last_errors or []):
            recent.setdefault(error.get("kind", ""), []).append(error)
        counts = dict(self.errors_by_kind or {})
        for kind, errors in recent.items():
            counts.setdefault(kind, len(errors))
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [{"kind": kind, "count": count, "latest": recent.get(kind, [])[:latest]} for kind, count in ordered]
