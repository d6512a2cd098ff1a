"""GET /api/brands/, /api/brands/random/ and /api/brands/<slug>/."""

from __future__ import annotations

import pytest

from brands.models import Company
from brands.services import category_upsert, company_upsert
from reviews.services import company_refresh_aggregates
from tests.factories import scraped_review_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> dict[str, Company]:
    """Three active brands in a small category tree, one hidden brand, and a few starred reviews."""
    shopping = category_upsert(name="Shopping & Fashion")
    shoes = category_upsert(name="Shoe Store", parent=shopping)
    travel = category_upsert(name="Travel")
    brands = {
        "acme": company_upsert(name="Acme Shoes", domain="acme-shoes.example"),
        "boots": company_upsert(name="Boots & Co", domain="boots.example"),
        "fly": company_upsert(name="Aardvark Air", domain="aardvark.example"),
        "gone": company_upsert(name="Gone Shoes", domain="gone.example", is_active=False),
    }
    brands["acme"].categories.add(shoes)
    brands["boots"].categories.add(shopping)
    brands["fly"].categories.add(travel)
    brands["gone"].categories.add(shoes)
    for stars in [5, 5, 4, 1]:
        scraped_review_create(company=brands["acme"], stars=stars)
    for _ in range(5):
        scraped_review_create(company=brands["boots"], stars=2)
    company_refresh_aggregates([b.pk for b in brands.values()])
    return brands


def names(response) -> list[str]:
    return [brand["name"] for brand in response.json()["results"]]


def test_the_list_holds_active_brands_with_their_aggregates(visitor, catalogue):
    response = visitor.get("/api/brands/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None and body["previous"] is None
    acme = next(b for b in body["results"] if b["slug"] == catalogue["acme"].slug)
    assert acme["name"] == "Acme Shoes"
    assert acme["review_count"] == 4
    assert acme["average_stars"] == 3.75
    assert acme["categories"] == [{"slug": "shoe-store", "name": "Shoe Store"}]
    assert acme["url"] == f"/brands/{acme['slug']}/"
    assert acme["logo_url"] == f"/brands/{acme['slug']}/logo.svg"
    assert "Gone Shoes" not in names(response)


def test_search_matches_part_of_the_name(visitor, catalogue):
    assert names(visitor.get("/api/brands/", {"search": "shoe"})) == ["Acme Shoes"]


def test_the_category_filter_includes_sub_categories(visitor, catalogue):
    response = visitor.get("/api/brands/", {"category": "shopping-fashion", "ordering": "name"})

    assert names(response) == ["Acme Shoes", "Boots & Co"]
    assert names(visitor.get("/api/brands/", {"category": "travel"})) == ["Aardvark Air"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["Aardvark Air", "Acme Shoes", "Boots & Co"]),
        ("rating", ["Acme Shoes", "Boots & Co", "Aardvark Air"]),
        ("reviews", ["Boots & Co", "Acme Shoes", "Aardvark Air"]),
    ],
)
def test_orderings(visitor, catalogue, ordering, expected):
    assert names(visitor.get("/api/brands/", {"ordering": ordering})) == expected


def test_an_unknown_category_or_ordering_is_a_field_error(visitor, catalogue):
    response = visitor.get("/api/brands/", {"category": "nope", "ordering": "price"})

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["category"] == ["No category with the slug 'nope'."]
    assert fields["ordering"] == ['"price" is not a valid choice.']


def test_pages_link_to_each_other(visitor, catalogue):
    first = visitor.get("/api/brands/", {"page_size": 2, "ordering": "name"}).json()
    second = visitor.get(first["next"]).json()

    assert first["count"] == 3
    assert [b["name"] for b in first["results"]] == ["Aardvark Air", "Acme Shoes"]
    assert first["previous"] is None
    assert [b["name"] for b in second["results"]] == ["Boots & Co"]
    assert second["next"] is None
    assert second["previous"] is not None


def test_page_size_is_capped_at_100(visitor):
    Company.objects.bulk_create(Company(name=f"Brand {n:03}", slug=f"brand-{n:03}") for n in range(105))

    response = visitor.get("/api/brands/", {"page_size": 500})

    assert response.json()["count"] == 105
    assert len(response.json()["results"]) == 100


def test_a_page_past_the_end_is_a_404_in_the_error_format(visitor, catalogue):
    response = visitor.get("/api/brands/", {"page": 9})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_random_gives_an_active_brand_avoiding_excluded_ones(visitor, catalogue):
    seen = {
        visitor.get("/api/brands/random/", {"exclude": ["acme-shoes", "aardvark-air"]}).json()["slug"] for _ in range(5)
    }

    assert seen == {"boots-co"}


def test_random_still_answers_when_everything_is_excluded(visitor, catalogue):
    response = visitor.get("/api/brands/random/?exclude=acme-shoes&exclude=boots-co&exclude=aardvark-air")

    assert response.status_code == 200
    assert response.json()["slug"] in {"acme-shoes", "boots-co", "aardvark-air"}


def test_random_without_brands_is_a_404(visitor):
    response = visitor.get("/api/brands/random/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No brand is open for reviews yet."


def test_one_brand_with_its_star_distribution(visitor, catalogue):
    response = visitor.get(f"/api/brands/{catalogue['acme'].slug}/")

    assert response.status_code == 200
    body = response.json()
    assert body["star_distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 2}
    assert body["review_count"] == 4
    assert body["average_stars"] == 3.75
    assert body["is_active"] is True


def test_a_hidden_brand_page_stays_reachable(visitor, catalogue):
    response = visitor.get(f"/api/brands/{catalogue['gone'].slug}/")

    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_an_unknown_brand_is_a_404(visitor):
    response = visitor.get("/api/brands/no-such-brand/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No brand with the slug 'no-such-brand'."


def test_a_brand_called_random_gets_a_slug_its_page_can_use(visitor, catalogue):
    """/api/brands/random/ is the random-brand path, so no brand may take the slug `random`."""
    from django.core.exceptions import ValidationError

    from brands.services import companies_create

    named = company_upsert(name="Random", domain="random.example")
    loaded = companies_create(rows=[{"name": "random"}], source="test")[0]

    assert (named.slug, loaded.slug) == ("random-2", "random-3")
    assert visitor.get("/api/brands/random-2/").json()["name"] == "Random"
    with pytest.raises(ValidationError, match="reserved"):
        Company(name="Random", slug="random").full_clean()


def test_ordering_by_name_ignores_case(visitor, catalogue):
    for name in ("eBay", "ASOS", "easyJet", "adidas"):
        company_upsert(name=name, domain=f"{name.lower()}.example")
    assert names(visitor.get("/api/brands/", {"ordering": "name"})) == [
        "Aardvark Air",
        "Acme Shoes",
        "adidas",
        "ASOS",
        "Boots & Co",
        "easyJet",
        "eBay",
    ]
    # Within a category, where the query is DISTINCT, too.
    category = catalogue["boots"].categories.first()
    Company.objects.get(name="eBay").categories.add(category)
    response = visitor.get("/api/brands/", {"ordering": "name", "category": category.slug})
    assert names(response) == ["Acme Shoes", "Boots & Co", "eBay"]
