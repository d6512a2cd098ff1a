"""End to end: `manage.py crawl` on the local review site with real Chromium, Scrapy and database."""

from __future__ import annotations

import urllib.request

import pytest

from brands.domains import normalize_domain
from brands.models import Category, Company
from crawling.models import CrawlRun
from crawling.parsing import parse_listing_companies
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview
from tests.conftest import browser_marks
from tests.review_site.checks import normalised, run_crawl, stored_reviews
from tests.review_site.content import add_faults, build_site
from tests.review_site.server import ReviewSite

pytestmark = [*browser_marks(), pytest.mark.slow]


@pytest.fixture
def faulty_site():
    with ReviewSite(add_faults(build_site())) as site:
        yield site


def test_crawl_stores_exactly_what_the_site_serves_and_survives_every_fault(faulty_site, subprocess_env, tmp_path):
    site = faulty_site.site
    # The listing HTML itself holds no company links: only a browser running its script finds them.
    some_sub = next(iter(site.categories.values()))[0][0]
    listing = urllib.request.urlopen(f"{faulty_site.url}/categories/{some_sub}").read().decode()
    assert parse_listing_companies(listing) == [] and 'href="/review/' not in listing

    done = run_crawl({**subprocess_env, "STARLING_VAR_DIR": str(tmp_path)}, "--start-url", faulty_site.url)

    run = CrawlRun.objects.get()
    assert run.status == CrawlRun.Status.SUCCEEDED, run.error
    served = normalised(site.served_reviews())
    stored = stored_reviews()
    assert sorted(stored) == sorted(served)
    assert [(k, f, stored[k][f], v) for k in served for f, v in served[k].items() if stored[k][f] != v] == []
    assert all(r.label == stars_to_label(r.stars) for r in ScrapedReview.objects.all())
    assert {r.crawl_run_id for r in ScrapedReview.objects.all()} == {run.pk}
    assert run.reviews_new == len(served) and run.reviews_updated == 0
    # Companies came from the JavaScript listing (with the browser), each once, in every sub-category it is in.
    listed = {normalize_domain(c.domain) for c in site.listed_companies()}
    assert set(Company.objects.values_list("domain", flat=True)) == listed
    assert run.companies_found == len(listed)
    shared = next(c for c in site.companies.values() if len(c.subcategories) > 1)
    assert sorted(
        Company.objects.get(domain=normalize_domain(shared.domain)).categories.values_list("slug", flat=True)
    ) == sorted(shared.subcategories)
    tops = Category.objects.filter(parent=None)
    assert set(tops.values_list("name", flat=True)) == set(site.categories)
    # Every fault was survived and counted, with its URL.
    kinds = run.errors_by_kind
    for kind in ("http_404", "http_500", "redirects", "too_large", "robots", "render_timeout", "retried_http_429",
                 "retried_http_503", "retried_http_500", "retried_timeout", "next_data_missing"):  # fmt: skip
        assert kinds.get(kind), f"{kind} not counted: {kinds}"
    assert (kinds["review_bad_rating"], kinds["review_empty_text"], kinds["review_duplicate_id"]) == (2, 1, 1)
    assert run.reviews_skipped == 4
    # The empty sub-category renders (zero cards, a disabled next button); only the silent one times out.
    timeouts = [e["url"] for e in run.last_errors if e["kind"] == "render_timeout"]
    assert kinds["render_timeout"] == 1 and timeouts[0].endswith("/categories/never_renders")
    assert any(e["kind"] == "http_404" and e["url"].endswith("/review/not-found.example") for e in run.last_errors)
    assert f"new {len(served)} · updated 0 · unchanged 0" in done.stdout and "render_timeout" in done.stdout
    # The discovery bar does not sit silent through a render timeout: the console says what happened.
    assert "/categories/never_renders showed no companies within 6s; skipped it" in done.stderr
    assert "Scrapy" not in done.stdout + done.stderr and "Versions" not in done.stdout + done.stderr

    # A second crawl (of the known companies, no browser) adds and changes nothing.
    again = run_crawl(subprocess_env, "--start-url", faulty_site.url, "--no-browser")
    assert f"new 0 · updated 0 · unchanged {len(served)}" in again.stdout
    second = CrawlRun.objects.order_by("-pk").first()
    assert (second.status, second.reviews_new, second.reviews_updated) == ("succeeded", 0, 0)
    assert stored_reviews() == served
    assert set(ScrapedReview.objects.values_list("crawl_run_id", flat=True)) == {run.pk}


def test_companies_a_crawl_finds_stay_off_the_form_and_brand_list_until_staff_open_them(
    faulty_site, subprocess_env, client, staff
):
    done = run_crawl(subprocess_env, "--start-url", faulty_site.url)

    found = list(Company.objects.order_by("name"))
    assert found and not any(company.is_active for company in found)
    assert f"{len(found)} new companies start closed to reviews" in done.stdout
    names = [company.name for company in found]
    assert not [name for name in names if name in client.get("/brands/").content.decode()]
    assert not [name for name in names if name in client.get("/").content.decode()]

    opened = staff.post(
        "/admin/brands/company/",
        {"action": "open_to_reviews", "_selected_action": [found[0].pk, found[1].pk]},
        follow=True,
    )

    assert "2 companies opened to reviews." in opened.content.decode()
    brand_list = client.get("/brands/").content.decode()
    assert found[0].name in brand_list and found[1].name in brand_list and found[2].name not in brand_list
