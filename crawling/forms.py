"""The admin's form for starting a crawl: the same options as `manage.py crawl`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from crawling.services import DEFAULT_START_URL


def _words(value: str) -> list[str]:
    return [word for word in value.replace(",", " ").split() if word]


class CrawlStartForm(forms.Form):
    """Options of a crawl run, checked again by `crawl_params_clean` in the service."""

    start_url = forms.URLField(initial=DEFAULT_START_URL, assume_scheme="https", help_text="The review site.")
    categories = forms.CharField(
        required=False, help_text="Category slugs (space or comma separated); empty for every category."
    )
    companies = forms.CharField(
        required=False, help_text="Company domains to crawl directly (skips categories and discovery)."
    )
    max_companies = forms.IntegerField(required=False, min_value=1)
    max_pages = forms.IntegerField(required=False, min_value=1, help_text="Review pages per company.")
    concurrency = forms.IntegerField(required=False, min_value=1, initial=settings.CRAWL_CONCURRENCY)
    no_browser = forms.BooleanField(required=False, help_text="Skip discovery: crawl the companies already known.")

    def params(self) -> dict[str, Any]:
        """The cleaned options as the crawl service takes them."""
        data = dict(self.cleaned_data)
        data["categories"] = _words(data.get("categories") or "")
        data["companies"] = _words(data.get("companies") or "")
        return data
