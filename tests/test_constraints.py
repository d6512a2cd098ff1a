"""The data model's rules hold in the database itself, not only in forms: writes that break them fail."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from brands.domains import normalize_domain
from brands.models import Company
from brands.services import company_upsert
from ml.models import ModelVersion
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview, UserReview
from reviews.services import company_refresh_aggregates, user_review_create, user_review_set_status
from tests.factories import company_create, scraped_review_create


@pytest.fixture
def company(db) -> Company:
    return company_create(name="Acme", domain="acme.example", source="starter")


@pytest.fixture
def scraped(company) -> ScrapedReview:
    return scraped_review_create(company=company, source_id="r1", stars=4, text="Nice")


def violates(write) -> bool:
    """True when the write is refused by the database (the savepoint keeps the test's transaction usable)."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def test_stars_outside_one_to_five_are_refused_even_through_update(scraped):
    assert violates(lambda: ScrapedReview.objects.filter(pk=scraped.pk).update(stars=9))
    assert violates(lambda: ScrapedReview.objects.filter(pk=scraped.pk).update(stars=0, label="bad"))
    scraped.refresh_from_db()
    assert scraped.stars == 4


def test_a_label_that_disagrees_with_the_stars_is_refused(scraped):
    assert violates(lambda: ScrapedReview.objects.filter(pk=scraped.pk).update(label="bad"))
    assert violates(lambda: ScrapedReview.objects.filter(pk=scraped.pk).update(label="great", stars=None))
    assert not violates(lambda: ScrapedReview.objects.filter(pk=scraped.pk).update(stars=3, label="average"))


def test_a_review_is_stored_once_per_source_id(scraped, company):
    duplicate = {"company": company, "source": "trustpilot", "source_id": "r1", "stars": 1, "label": "bad"}
    duplicate["text"] = "Again"
    assert violates(lambda: ScrapedReview.objects.create(**duplicate))
    assert not violates(lambda: ScrapedReview.objects.create(**{**duplicate, "source": "import"}))


def test_empty_review_text_is_refused(company):
    assert violates(
        lambda: ScrapedReview.objects.create(company=company, source="import", source_id="x", label="good", text="")
    )


@pytest.mark.parametrize("rating", [0, 6])
def test_a_visitor_rating_outside_one_to_five_is_refused(company, rating):
    assert violates(lambda: UserReview.objects.create(company=company, text="Fine shop", rating=rating))


def test_a_visitor_score_outside_zero_to_one_is_refused(company):
    assert violates(lambda: UserReview.objects.create(company=company, text="Fine shop", rating=3, score=1.5))


def test_only_one_model_version_can_be_active(db):
    ModelVersion.objects.create(name="charcnn-a", architecture="charcnn", file="models/a.pt", is_active=True)
    ModelVersion.objects.create(name="charcnn-b", architecture="charcnn", file="models/b.pt")

    assert violates(lambda: ModelVersion.objects.filter(name="charcnn-b").update(is_active=True))


def test_company_domains_are_unique_once_normalised(company):
    assert company_upsert(name="ACME Inc", website="https://WWW.Acme.Example/about").pk == company.pk
    assert violates(lambda: Company.objects.create(name="Acme 2", slug="acme-2", domain="acme.example"))


def test_company_aggregates_must_add_up(company):
    assert violates(lambda: Company.objects.filter(pk=company.pk).update(review_count=3))
    assert violates(lambda: Company.objects.filter(pk=company.pk).update(average_stars=6))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://WWW.Example.com:443/review?x=1", "example.com"),
        ("example.com", "example.com"),
        ("www.example.co.uk/", "example.co.uk"),
        ("http://shop.example.com.", "shop.example.com"),
        ("  Sub.Example.COM  ", "sub.example.com"),
        ("", ""),
    ],
)
def test_normalize_domain(value, expected):
    assert normalize_domain(value) == expected


@pytest.mark.parametrize(
    ("stars", "label"), [(1, "bad"), (2, "bad"), (3, "average"), (4, "good"), (5, "good"), ("5", "good")]
)
def test_stars_to_label(stars, label):
    assert stars_to_label(stars) == label


@pytest.mark.parametrize("stars", [0, 6, None, "five", 2.5, True, "3.0"])
def test_stars_to_label_refuses_anything_but_one_to_five(stars):
    with pytest.raises(ValueError, match="stars must be an integer from 1 to 5"):
        stars_to_label(stars)


def test_company_aggregates_follow_visitor_reviews_being_added_and_hidden(scraped, company):
    first = user_review_create(company=company, text="Absolutely wonderful service, thank you!", rating=5)
    user_review_create(company=company, text="Dreadful, rude and slow. Never again.", rating=1)

    company.refresh_from_db()
    assert (company.review_count, company.stars_1, company.stars_4, company.stars_5) == (3, 1, 1, 1)
    assert company.average_stars == pytest.approx(10 / 3, abs=1e-3)
    assert company.user_review_count == 2
    assert 0 <= company.mean_sentiment <= 1

    user_review_set_status(review_ids=[first.pk], status=UserReview.Status.HIDDEN)

    company.refresh_from_db()
    assert (company.review_count, company.stars_5, company.user_review_count) == (2, 0, 1)
    assert company.average_stars == pytest.approx(2.5)


def test_refreshing_aggregates_counts_scraped_stars_but_not_label_only_rows(scraped, company):
    ScrapedReview.objects.create(company=company, source="import", source_id="x1", label="bad", text="Label only")
    ScrapedReview.objects.create(company=company, source="import", source_id="x2", stars=2, label="bad", text="Meh")

    company_refresh_aggregates([company.pk])

    company.refresh_from_db()
    assert company.star_distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}
    assert company.average_stars == pytest.approx(3.0)
