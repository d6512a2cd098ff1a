"""The page parser reads real saved Trustpilot pages exactly, and the local site's pages too."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from crawling.parsing import (
    PageParseError,
    next_page_url,
    parse_categories_page,
    parse_company_page,
    parse_listing_companies,
)
from tests.review_site.content import add_faults, build_site
from tests.review_site.server import render_categories, render_company_page, render_listing

NEXT_DATA = re.compile(r'<script id="__NEXT_DATA__".*?</script>', re.DOTALL)


def _real_pages(shared_data):
    folder = shared_data / "trustpilot_pages"
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    for name, want in expected.items():
        html = gzip.decompress((folder / name).read_bytes()).decode("utf-8")
        yield name, html, want


def test_parser_reproduces_expected_json_for_every_real_page(shared_data):
    pages = list(_real_pages(shared_data))
    assert len(pages) == 12
    for name, html, want in pages:
        page = parse_company_page(html, url=f"https://www.trustpilot.com/review/{want['company']['domain']}")
        assert page["source"] == "next_data", name
        assert {key: page["company"][key] for key in want["company"]} == want["company"], name
        assert {key: page["pagination"][key] for key in want["pagination"]} == want["pagination"], name
        fields = ("id", "rating", "title", "text", "language", "published")
        assert [{key: review[key] for key in fields} for review in page["reviews"]] == want["reviews"], name


def test_real_pages_follow_pagination_on_the_host_the_crawl_started_on(shared_data):
    for _, html, want in _real_pages(shared_data):
        domain = want["company"]["domain"]
        page = parse_company_page(html, url=f"http://127.0.0.1:8123/review/{domain}")
        if want["pagination"]["current_page"] < want["pagination"]["total_pages"]:
            assert page["next_url"].startswith(f"http://127.0.0.1:8123/review/{domain}?")
            assert page["next_url"].endswith("page=2")
        else:
            assert page["next_url"] is None


def test_markup_fallback_reads_real_pages_without_next_data(shared_data):
    for name, html, want in _real_pages(shared_data):
        stripped = NEXT_DATA.sub("", html)
        page = parse_company_page(stripped, url=f"https://www.trustpilot.com/review/{want['company']['domain']}")
        assert page["source"] == "markup", name
        assert page["company"]["name"] == want["company"]["name"], name
        by_id = {review["id"]: review for review in page["reviews"]}
        for review in want["reviews"]:
            got = by_id[review["id"]]
            assert got["rating"] == review["rating"], name
            assert " ".join(got["text"].split()) == " ".join(review["text"].split()), name


def test_a_page_with_neither_json_nor_markup_is_a_parse_error():
    with pytest.raises(PageParseError, match="no __NEXT_DATA__"):
        parse_company_page("<html><body><p>Access denied</p></body></html>", url="http://x/review/a.com")


def test_local_site_pages_parse_the_same_from_json_and_from_markup():
    site = add_faults(build_site(use_shared_data=False))
    company = next(iter(site.companies.values()))
    html = render_company_page(company, 1, {})
    from_json = parse_company_page(html, url=f"http://127.0.0.1:1/review/{company.domain}")
    from_markup = parse_company_page(NEXT_DATA.sub("", html), url=f"http://127.0.0.1:1/review/{company.domain}")
    fields = ("id", "rating", "title", "text", "language", "published")
    assert [[r[f] for f in fields] for r in from_json["reviews"]] == [
        [r[f] for f in fields] for r in from_markup["reviews"]
    ]
    assert from_json["next_url"] == from_markup["next_url"] == f"http://127.0.0.1:1/review/{company.domain}?page=2"


def test_broken_json_falls_back_to_markup():
    site = build_site(use_shared_data=False)
    company = next(iter(site.companies.values()))
    html = render_company_page(company, 1, {"broken_json": [(company.domain, 1)]})
    page = parse_company_page(html, url=f"http://127.0.0.1:1/review/{company.domain}")
    assert page["source"] == "markup"
    assert [r["id"] for r in page["reviews"]] == [r.id for r in company.pages[0]]


def test_disabled_next_button_ends_pagination():
    assert next_page_url('<a name="pagination-button-next" aria-disabled="true">Next</a>', url="http://a/") is None
    html = (
        '<a class="x" href="https://www.trustpilot.com/review/b.com?languages=all&amp;page=3" '
        'name="pagination-button-next">'
    )
    assert next_page_url(html, url="http://127.0.0.1:5/review/b.com?page=2") == (
        "http://127.0.0.1:5/review/b.com?languages=all&page=3"
    )


def test_categories_page_gives_the_tree_and_listing_html_has_no_company_links():
    site = build_site(use_shared_data=False)
    tree = parse_categories_page(render_categories(site))
    assert [block["name"] for block in tree] == list(site.categories)
    assert [[c["slug"] for c in block["children"]] for block in tree] == [
        [slug for slug, _ in subs] for subs in site.categories.values()
    ]
    assert parse_listing_companies(render_listing("x", 1)) == []
