"""Staff start, watch and retry crawls from the admin, and crawl selected companies or categories; a run's page
groups its errors by kind, worst first, with the latest URLs and whole details, under a progress bar."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crawling.models import CrawlRun
from tests.factories import category_create, company_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def test_staff_start_a_crawl_from_the_form_and_watch_it(staff, redis_url):
    response = staff.get(reverse("admin:crawling_crawlrun_add"), follow=True)
    assert b"Start crawl" in response.content

    response = staff.post(
        reverse("admin:crawling_crawlrun_start"),
        {"start_url": "http://127.0.0.1:9", "categories": "pets, toys", "max_pages": "2", "concurrency": "2"},
        follow=True,
    )

    run = CrawlRun.objects.get()
    assert run.status == CrawlRun.Status.QUEUED and run.job_id
    assert run.params["categories"] == ["pets", "toys"] and run.params["max_pages"] == 2
    assert f"Crawl #{run.pk} is queued" in response.content.decode()
    CrawlRun.objects.filter(pk=run.pk).update(
        status="failed",
        pages_fetched=7,
        errors_by_kind={"http_500": 1},
        last_errors=[{"kind": "http_500", "url": "http://127.0.0.1:9/review/x.com", "detail": "boom"}],
    )
    page = staff.get(reverse("admin:crawling_crawlrun_change", args=[run.pk])).content.decode()
    assert "http://127.0.0.1:9/review/x.com" in page and "http_500" in page

    staff.post(reverse("admin:crawling_crawlrun_changelist"), {"action": "retry", "_selected_action": [run.pk]})
    assert CrawlRun.objects.count() == 2
    assert CrawlRun.objects.order_by("-pk").first().params == run.params


def test_bad_options_are_explained(staff, redis_url):
    response = staff.post(reverse("admin:crawling_crawlrun_start"), {"start_url": "ftp://x", "max_pages": "0"})
    assert response.status_code == 200
    assert CrawlRun.objects.count() == 0
    assert "Enter a valid URL" in response.content.decode()


def test_staff_crawl_selected_companies_and_categories(staff, redis_url):
    company = company_create(name="Acme", domain="acme.example", source_identifier="www.acme.example")
    category = category_create(name="Pets")

    staff.post(
        reverse("admin:brands_company_changelist"),
        {"action": "crawl_selected_companies", "_selected_action": [company.pk]},
    )
    staff.post(
        reverse("admin:brands_category_changelist"),
        {"action": "crawl_selected_categories", "_selected_action": [category.pk]},
    )

    first, second = CrawlRun.objects.order_by("pk")
    assert first.params["companies"] == ["www.acme.example"]
    assert second.params["categories"] == ["pets"]


def test_a_run_page_groups_errors_by_kind_worst_first_with_the_latest_urls_and_full_details(staff):
    from crawling.services import crawl_run_record_errors

    run = CrawlRun.objects.create(status="running", progress=0.4, progress_message="reviews: 4 of 10 companies done")
    long_detail = "Render timeout after 20s while waiting for cards; " + "x" * 250 + " END-OF-DETAIL"
    crawl_run_record_errors(
        run_id=run.pk,
        errors=[
            {"kind": "retried_http_503", "url": f"http://site.example/review/shop{n}.example", "detail": "503"}
            for n in range(30)
        ]
        + [{"kind": "http_500", "url": "http://site.example/review/broken.example", "detail": "500 Internal"}]
        + [{"kind": "render_timeout", "url": "http://site.example/categories/slow", "detail": long_detail}]
        + [{"kind": "http_500", "url": "http://site.example/review/also-broken.example", "detail": "500 again"}],
    )

    page = staff.get(reverse("admin:crawling_crawlrun_change", args=[run.pk])).content.decode()

    table = page[page.index('class="starling-table crawl-errors"') :]
    kinds = re.findall(r'<th scope="row"><code>(\w+)</code></th><td class="count">(\d+)</td>', table)
    assert kinds == [("retried_http_503", "30"), ("http_500", "2"), ("render_timeout", "1")]  # most frequent first
    assert table.count("shop") == 5  # the latest few of a flood, which buries nothing else
    assert "shop29.example" in table and "shop24.example" not in table
    assert table.index("also-broken.example") < table.index("/broken.example")  # newest first
    assert long_detail[:300] in page  # the detail kept by the crawler is shown whole (it wraps, never cut)
    assert "{&#x27;" not in page and "e.g. {" not in page  # a table, not raw JSON with its example help text
    assert '<progress class="run-progress" max="100" value="40"' in page
    assert "reviews: 4 of 10 companies done" in page
    assert 'name="_save"' not in page
    assert "admin/starling-admin.css" in page
    listing = staff.get(reverse("admin:crawling_crawlrun_changelist")).content.decode()
    assert '<progress max="100" value="40">' in listing


def test_the_latest_errors_keep_a_few_of_every_kind():
    from crawling.services import LAST_ERRORS_PER_KIND, crawl_run_record_errors

    run = CrawlRun.objects.create(status="running")
    crawl_run_record_errors(run_id=run.pk, errors=[{"kind": "robots", "url": "http://a.example/1", "detail": ""}])
    for batch in range(4):
        crawl_run_record_errors(
            run_id=run.pk,
            errors=[{"kind": "timeout", "url": f"http://a.example/t{batch}-{n}", "detail": ""} for n in range(40)],
        )

    run.refresh_from_db()
    assert run.errors_by_kind == {"robots": 1, "timeout": 160}
    assert [e["kind"] for e in run.last_errors].count("timeout") == LAST_ERRORS_PER_KIND
    assert any(e["kind"] == "robots" for e in run.last_errors)
    assert run.last_errors[-1]["url"] == "http://a.example/t3-39"
