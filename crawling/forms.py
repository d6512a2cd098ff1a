"""The admin's form for starting a crawl: the same options as `manage.py crawl`, bounds from crawling.options."""

from __future__ import annotations

from typing import Any

from django import forms

from crawling.options import DEFAULT_START_URL, LIST_OPTIONS, NO_BROWSER_HELP, NUMBERS, NumberOption


def _words(value: str) -> list[str]:
    return [word for word in value.replace(",", " ").split() if word]


def _number_field(option: NumberOption) -> forms.Field:
    field = forms.IntegerField if option.type is int else forms.FloatField
    return field(
        required=False,
        min_value=option.minimum,
        max_value=option.maximum,
        initial=option.default() if option.default is not None else None,
        help_text=option.help,
    )


class CrawlStartForm(forms.Form):
    """Options of a crawl run, checked again by `crawl_params_clean` in the service."""

    start_url = forms.URLField(initial=DEFAULT_START_URL, assume_scheme="https", help_text="The review site.")
    categories = forms.CharField(
        required=False, help_text="Category slugs (space or comma separated); empty for every category."
    )
    companies = forms.CharField(
        required=False, help_text="Company domains to crawl directly (skips categories and discovery)."
    )
    max_companies = _number_field(NUMBERS["max_companies"])
    max_pages = _number_field(NUMBERS["max_pages"])
    concurrency = _number_field(NUMBERS["concurrency"])
    no_browser = forms.BooleanField(required=False, help_text=NO_BROWSER_HELP)
    render_timeout = _number_field(NUMBERS["render_timeout"])

    def params(self) -> dict[str, Any]:
        """The cleaned options as the crawl service takes them."""
        data = dict(self.cleaned_data)
        for option in LIST_OPTIONS:
            data[option.name] = _words(data.get(option.name) or "")
        return data
