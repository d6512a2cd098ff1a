"""API shapes for crawl runs: the options of a new crawl (from crawling.options) and a run with its counters."""

from __future__ import annotations

from rest_framework import serializers

from core.api_fields import StrictCharField
from crawling.models import CrawlRun
from crawling.options import LISTS, NO_BROWSER_HELP, NUMBERS, START_URL_HELP, NumberOption


def _number_field(option: NumberOption) -> serializers.Field:
    field = serializers.IntegerField if option.type is int else serializers.FloatField
    return field(required=False, min_value=option.minimum, max_value=option.maximum, help_text=option.help)


class CrawlStartSerializer(serializers.Serializer):
    """The options of a new crawl; the crawl service checks them again and fills in defaults."""

    start_url = serializers.URLField(required=False, max_length=500, help_text=START_URL_HELP)
    categories = serializers.ListField(
        child=serializers.SlugField(max_length=200),
        required=False,
        max_length=LISTS["categories"].max_items,
        help_text=LISTS["categories"].help,
    )
    companies = serializers.ListField(
        child=StrictCharField(max_length=255),
        required=False,
        max_length=LISTS["companies"].max_items,
        help_text=LISTS["companies"].help,
    )
    max_companies = _number_field(NUMBERS["max_companies"])
    max_pages = _number_field(NUMBERS["max_pages"])
    concurrency = _number_field(NUMBERS["concurrency"])
    no_browser = serializers.BooleanField(required=False, help_text=NO_BROWSER_HELP)
    render_timeout = _number_field(NUMBERS["render_timeout"])
    # Kept so clients that send it are not silently given a browser crawl; the service folds it into no_browser.
    reviews_only = serializers.BooleanField(required=False, help_text="Deprecated: the same as no_browser.")


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
            "companies_new",
            "reviews_new",
            "reviews_updated",
            "reviews_unchanged",
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
