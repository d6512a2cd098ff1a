"""200 visitors submitting at once, through the form and the API: 200 rows, exact brand aggregates."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from brands.models import Company
from brands.services import company_upsert
from reviews.models import UserReview

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VISITORS = 200
TEXTS = {
    1: "Awful experience, rude staff and a broken product. Never again.",
    3: "It was okay. Delivery took a while but the product is fine.",
    5: "Wonderful shop, quick delivery and friendly help. Recommended!",
}


def submit(n: int, slugs: list[str]) -> int:
    """Visitor n reviews a brand through the form (even n) or the API (odd n); returns the HTTP status."""
    rating = (1, 3, 5)[n % 3]
    slug = slugs[n % len(slugs)]
    ip = f"198.51.{n // 250}.{n % 250 + 1}"
    try:
        if n % 2:
            return (
                APIClient(REMOTE_ADDR=ip)
                .post("/api/reviews/", {"brand": slug, "text": TEXTS[rating], "rating": rating}, format="json")
                .status_code
            )
        client = Client(REMOTE_ADDR=ip)
        page = client.get(f"/?brand={slug}").content.decode()
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
        assert fields.get("brand") == slug, "the form did not show the requested brand"
        return client.post("/", {**fields, "text": TEXTS[rating], "rating": str(rating)}).status_code
    finally:
        connections.close_all()


def test_concurrent_submissions_store_every_review_once_and_keep_aggregates_exact():
    brands = [company_upsert(name=f"Load Brand {i}", domain=f"load{i}.example") for i in range(3)]
    slugs = [b.slug for b in brands]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda n: submit(n, slugs), range(VISITORS)))

    assert all(status in (200, 201, 302) for status in statuses), sorted(set(statuses))
    assert UserReview.objects.count() == VISITORS
    for company in Company.objects.filter(pk__in=[b.pk for b in brands]):
        ratings = list(UserReview.objects.filter(company=company).values_list("rating", flat=True))
        assert company.review_count == len(ratings)
        assert company.star_distribution == {star: ratings.count(star) for star in range(1, 6)}
        assert company.average_stars == pytest.approx(sum(ratings) / len(ratings), abs=1e-4)
        assert company.user_review_count == len(ratings)


def test_the_same_form_sent_five_times_at_once_stores_one_review():
    brand = company_upsert(name="Double Click", domain="double-click.example")
    client = Client(REMOTE_ADDR="198.51.100.9")
    page = client.get(f"/?brand={brand.slug}").content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))

    def send(_: int) -> int:
        try:
            return Client(REMOTE_ADDR="198.51.100.9").post("/", {**fields, "text": TEXTS[5], "rating": "5"}).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(send, range(5)))
    assert all(status in (200, 302) for status in statuses), statuses
    assert UserReview.objects.filter(company=brand).count() == 1
    brand.refresh_from_db()
    assert brand.review_count == 1
