"""Staff manage categories and companies in the admin: fast lists, typed filters, bulk actions, logos."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brands.models import Category, Company
from brands.services import category_upsert, company_upsert

pytestmark = pytest.mark.django_db

COMPANIES = reverse("admin:brands_company_changelist")


def add_companies(count: int, *, start: int = 0, category: Category | None = None) -> list[Company]:
    companies = Company.objects.bulk_create(
        Company(name=f"Brand {n}", slug=f"brand-{n}", domain=f"brand{n}.example") for n in range(start, start + count)
    )
    if category:
        Company.categories.through.objects.bulk_create(
            Company.categories.through(company_id=c.pk, category_id=category.pk) for c in companies
        )
    return companies


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_company_list_costs_the_same_queries_for_30_or_300_companies(admin_client):
    sports = category_upsert(name="Sports")
    add_companies(30, category=sports)
    few = queries_for(admin_client, COMPANIES)

    add_companies(270, start=30, category=sports)
    many = queries_for(admin_client, COMPANIES)

    assert many == few
    assert many <= 15


def test_category_list_costs_the_same_queries_for_30_or_300_categories(admin_client):
    top = category_upsert(name="Shopping & Fashion")
    Category.objects.bulk_create(Category(name=f"Sub {n}", slug=f"sub-{n}", parent=top) for n in range(30))
    url = reverse("admin:brands_category_changelist")
    few = queries_for(admin_client, url)

    Category.objects.bulk_create(Category(name=f"Sub {n}", slug=f"sub-{n}", parent=top) for n in range(30, 300))

    assert queries_for(admin_client, url) == few


def test_the_category_filter_is_a_text_box_that_includes_sub_categories(admin_client):
    sports = category_upsert(name="Sports")
    gyms = category_upsert(name="Gym", parent=sports)
    add_companies(2, category=gyms)
    add_companies(1, start=2, category=category_upsert(name="Utilities"))

    page = admin_client.get(COMPANIES).content.decode()
    filtered = admin_client.get(COMPANIES, {"category": "sports"}).content.decode()

    assert 'name="category"' in page and "<option" not in page.split('id="changelist-filter"')[1]
    assert "Brand 0" in filtered and "Brand 1" in filtered
    assert "Brand 2" not in filtered


def test_search_finds_a_company_by_exact_domain(admin_client):
    add_companies(3)

    page = admin_client.get(COMPANIES, {"q": "brand1.example"}).content.decode()

    assert "Brand 1" in page and "Brand 2" not in page


def test_companies_are_opened_and_closed_to_reviews_in_bulk_with_a_count(admin_client):
    first, second, third = add_companies(3)

    response = admin_client.post(
        COMPANIES, {"action": "close_to_reviews", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "2 companies closed to reviews." in response.content.decode()
    assert list(Company.objects.filter(is_active=False).order_by("pk")) == [first, second]

    response = admin_client.post(
        COMPANIES, {"action": "open_to_reviews", "_selected_action": [first.pk, third.pk]}, follow=True
    )

    assert "1 company opened to reviews. 1 company already open." in response.content.decode()
    assert set(Company.objects.filter(is_active=True)) == {first, third}
    closed_only = admin_client.get(COMPANIES, {"is_active__exact": "0"}).content.decode()
    assert "Brand 1" in closed_only and "Brand 0" not in closed_only
    page = admin_client.get(COMPANIES).content.decode()
    assert "Open to reviews (offer on the review form" in page and "Close to reviews" in page
    assert "By open to reviews" in page


def test_company_page_shows_its_generated_logo_star_distribution_and_review_links(admin_client):
    company = company_upsert(name="Acme Rockets", domain="acme.example")
    Company.objects.filter(pk=company.pk).update(review_count=4, stars_5=3, stars_1=1, average_stars=4.0)

    page = admin_client.get(reverse("admin:brands_company_change", args=[company.pk])).content.decode()

    assert reverse("brands:logo", kwargs={"slug": company.slug}) in page
    assert "star-distribution" in page and "5★" in page
    assert reverse("admin:reviews_scrapedreview_changelist") + "?company=acme-rockets" in page
    assert reverse("admin:reviews_userreview_changelist") + "?company=acme-rockets" in page
    logo = admin_client.get(reverse("brands:logo", kwargs={"slug": company.slug}))
    assert logo["Content-Type"] == "image/svg+xml" and b"AR" in logo.content


def test_a_domain_typed_by_staff_is_stored_normalised(admin_client):
    company = company_upsert(name="Acme", domain="acme.example")
    url = reverse("admin:brands_company_change", args=[company.pk])

    response = admin_client.post(
        url, {"name": "Acme", "slug": "acme", "domain": "https://WWW.Acme-Rockets.example/shop", "is_active": "on"}
    )

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.domain == "acme-rockets.example"
