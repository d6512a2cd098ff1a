"""Staff start, watch and retry crawls from the admin, and crawl selected companies or categories."""

from __future__ import annotations

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
