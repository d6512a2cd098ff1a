"""API shapes for crawl runs: the options of a new crawl and a run with its counters."""

from __future__ import annotations

from rest_framework import serializers

from crawling.models import CrawlRun
from crawling.services import DEFAULT_START_URL


class CrawlStartSerializer(serializers.Serializer):
    """The options of a new crawl; the crawl service checks them again and fills in defaults."""

    start_url = serializers.URLField(
        required=False, max_length=500, help_text=f"The review site's address (default {DEFAULT_START_URL})."
    )
    categories = serializers.ListField(
        child=serializers.SlugField(max_length=200),
        required=False,
        max_length=500,
        help_text="Only these sub-category slugs (default: every category).",
    )
    companies = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        max_length=5000,
        help_text="Only these company domains, e.g. www.example.com (skips category discovery).",
    )
    max_companies = serializers.IntegerField(required=False, min_value=1, help_text="Stop after this many companies.")
    max_pages = serializers.IntegerField(
        required=False, min_value=1, help_text="At most this many review pages per company."
    )
    concurrency = serializers.IntegerField(
        required=False, min_value=1, max_value=64, help_text="Parallel requests (default CRAWL_CONCURRENCY)."
    )
    no_browser = serializers.BooleanField(
        required=False, help_text="Skip the browser step (listing pages rendered by JavaScript)."
    )
    reviews_only = serializers.BooleanField(required=False, help_text="Only fetch reviews of known companies.")
    render_timeout = serializers.FloatField(
        required=False, min_value=1, max_value=300, help_text="Seconds to wait for a listing page to render."
    )


class CrawlRunSerializer(serializers.ModelSerializer):
    """A crawl as staff watch it: status, progress, counters and the latest errors."""

    progress = serializers.FloatField(min_value=0, max_value=1, read_only=True, help_text="0 to 1.")

    class Meta:
        model = CrawlRun
        fields = [
            "id",
            "status",
            "params",
            "progress",
            "progress_message",
            "error",
            "pages_fetched",
            "companies_found",
            "companies_done",
            "companies_total",
            "reviews_new",
            "reviews_updated",
            "reviews_skipped",
            "errors_by_kind",
            "last_errors",
            "parent",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]
        read_only_fields = fields
