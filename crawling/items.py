"""What the review spider hands to the pipeline: one parsed company page."""

from __future__ import annotations

from typing import Any, TypedDict


class CompanyPageItem(TypedDict):
    """A parsed company page (see crawling.parsing.parse_company_page) and where it came from."""

    url: str
    domain: str
    page_number: int
    category_slugs: list[str]
    company: dict[str, Any]
    reviews: list[dict[str, Any]]
    pagination: dict[str, Any]
    source: str
