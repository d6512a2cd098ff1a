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
    reviews_new = models.PositiveIntegerField(default=0)
    reviews_updated = models.PositiveIntegerField(default=0)
    reviews_skipped = models.PositiveIntegerField(default=0)
    errors_by_kind = models.JSONField(default=dict, blank=True, help_text="e.g. {'http_500': 3, 'parse': 1}")
    last_errors = models.JSONField(default=list, blank=True, help_text="The most recent errors with their URLs.")
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
