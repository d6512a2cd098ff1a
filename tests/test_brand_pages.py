"""Brand pages: /brands/ (search, category, sort, pages) and /brands/<slug>/ (rating, distribution, reviews)."""

from __future__ import annotations

import re
from datetime import UTC

import pytest

from brands.models import Company
from brands.services import category_upsert, company_upsert
from reviews.models import UserReview
from reviews.services import company_refresh_aggregates, user_review_create, user_review_set_status
from tests.factories import scraped_review_create

pytestmark = pytest.mark.django_db

GOOD = "Great shoes, friendly staff and quick delivery. Very happy with it."
BAD = "Terrible quality, rude support and a late, broken parcel. Awful."


def scraped(company: Company, stars: int, n: int = 1, text: str = "A review from the review site.") -> None:
    for _ in range(n):
        scraped_review_create(company=company, stars=stars, text=text, author_name="Sam")
    company_refresh_aggregates([company.pk])


def names(page: str) -> list[str]:
    return re.findall(r'class="brand-card-name" href="[^"]+">([^<]+)</a>', page)


@pytest.fixture
def catalog() -> dict[str, Company]:
    shoes = category_upsert(name="Fashion")
    boots = category_upsert(name="Boots", parent=shoes)
    books = category_upsert(name="Books")
    companies = {
        "acme": company_upsert(name="Acme Boots", domain="acme.example"),
        "zed": company_upsert(name="Zed Shoes", domain="zed.example"),
        "corner": company_upsert(name="Corner Books", domain="corner.example"),
    }
    companies["acme"].categories.add(boots)
    companies["zed"].categories.add(shoes)
    companies["corner"].categories.add(books)
    scraped(companies["acme"], 5, 2)  # 2 reviews, 5.0
    scraped(companies["zed"], 3, 3)  # 3 reviews, 3.0
    scraped(companies["corner"], 4, 1)  # 1 review, 4.0
    return companies


def test_list_sorts_by_rating_then_review_count(client, catalog):
    assert names(client.get("/brands/").content.decode()) == ["Acme Boots", "Corner Books", "Zed Shoes"]
    assert names(client.get("/brands/?sort=reviews").content.decode()) == ["Zed Shoes", "Acme Boots", "Corner Books"]
    assert names(client.get("/brands/?sort=name").content.decode()) == ["Acme Boots", "Corner Books", "Zed Shoes"]
    assert names(client.get("/brands/?sort=nonsense").content.decode()) == ["Acme Boots", "Corner Books", "Zed Shoes"]


def test_list_searches_by_name_and_filters_by_category(client, catalog):
    assert names(client.get("/brands/?q=boo").content.decode()) == ["Acme Boots", "Corner Books"]
    # A top-level category includes its sub-categories.
    assert names(client.get("/brands/?category=fashion").content.decode()) == ["Acme Boots", "Zed Shoes"]
    assert names(client.get("/brands/?category=boots").content.decode()) == ["Acme Boots"]
    page = client.get("/brands/?q=zzz").content.decode()
    assert names(page) == [] and "No brand matches" in page


def test_list_hides_inactive_brands_and_paginates(client, catalog):
    Company.objects.filter(slug=catalog["zed"].slug).update(is_active=False)
    for n in range(30):
        company_upsert(name=f"Brand {n:02d}", domain=f"brand{n}.example")
    first = client.get("/brands/?sort=name").content.decode()
    second = client.get("/brands/?sort=name&page=2").content.decode()
    assert len(names(first)) == 24 and len(names(second)) == 8
    assert "Zed Shoes" not in first + second
    assert "Page 1 of 2" in first
    assert 'href="?sort=name&amp;page=2"' in first  # other parameters are kept


def test_detail_shows_rating_distribution_and_reviews(client, catalog):
    acme = catalog["acme"]
    scraped(acme, 1, 2, text="Broken <b>after</b> a week")
    review = user_review_create(company=acme, text=GOOD, rating=4, ip="198.51.100.1")
    page = client.get(f"/brands/{acme.slug}/").content.decode()
    acme.refresh_from_db()
    assert acme.review_count == 5 and acme.stars_5 == 2 and acme.stars_1 == 2 and acme.stars_4 == 1
    assert '<span id="review-count">5</span>' in page
    assert "3.2 out of 5" in page  # (5+5+1+1+4) / 5
    assert re.search(r'data-stars="5">2<', page) and re.search(r'data-stars="1">2<', page)
    assert review.score is not None and "% positive" not in page  # words, not a raw percentage
    assert GOOD in page
    assert "Broken &lt;b&gt;after&lt;/b&gt; a week" in page
    assert 'aria-label="Rated 3.2 out of 5 stars"' in page
    assert 'id="rating-word">Average<' in page  # 3.2 rounds to 3 stars


def test_detail_filters_by_stars_and_paginates_reviews(client, catalog):
    acme = catalog["acme"]
    scraped(acme, 2, 12, text="Two stars, slow delivery.")
    page = client.get(f"/brands/{acme.slug}/?stars=2").content.decode()
    assert page.count("Two stars, slow delivery.") == 10
    assert "A review from the review site." not in page
    page2 = client.get(f"/brands/{acme.slug}/?stars=2&page=2").content.decode()
    assert page2.count("Two stars, slow delivery.") == 2
    page = client.get(f"/brands/{acme.slug}/?stars=5").content.decode()
    assert "Two stars" not in page and page.count("A review from the review site.") == 2


def test_aggregates_follow_hide_and_show(client, catalog):
    corner = catalog["corner"]
    good = user_review_create(company=corner, text=GOOD, rating=5)
    bad = user_review_create(company=corner, text=BAD, rating=1)
    corner.refresh_from_db()
    assert (corner.review_count, corner.stars_1, corner.user_review_count) == (3, 1, 2)
    assert corner.average_stars == pytest.approx((4 + 5 + 1) / 3, abs=1e-3)
    assert corner.mean_sentiment == pytest.approx((good.score + bad.score) / 2, abs=1e-3)

    user_review_set_status(review_ids=[bad.pk], status=UserReview.Status.HIDDEN)
    corner.refresh_from_db()
    page = client.get(f"/brands/{corner.slug}/").content.decode()
    assert (corner.review_count, corner.stars_1, corner.user_review_count) == (2, 0, 1)
    assert corner.average_stars == pytest.approx(4.5)
    assert corner.mean_sentiment == pytest.approx(good.score, abs=1e-3)
    assert BAD not in page and GOOD in page
    assert '<span id="review-count">2</span>' in page and "4.5 out of 5" in page

    user_review_set_status(review_ids=[bad.pk], status=UserReview.Status.VISIBLE)
    corner.refresh_from_db()
    page = client.get(f"/brands/{corner.slug}/").content.decode()
    assert (corner.review_count, corner.stars_1, corner.user_review_count) == (3, 1, 2)
    assert BAD in page and '<span id="review-count">3</span>' in page


def test_detail_of_unknown_brand_is_404_and_logo_still_served(client, catalog):
    assert client.get("/brands/no-such-brand/").status_code == 404
    logo = client.get(f"/brands/{catalog['acme'].slug}/logo.svg")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/svg+xml"


def test_a_brand_without_reviews_says_so(client):
    company = company_upsert(name="Fresh Start", domain="fresh.example")
    page = client.get(f"/brands/{company.slug}/").content.decode()
    assert "Not rated yet" in page and "No reviews yet." in page
    assert "No visitor reviews yet." in page
    assert f'href="/?brand={company.slug}"' in page


def test_names_sort_whatever_their_case(client, visitor):
    for name in ("Zooplus", "eBay", "ASOS", "easyJet", "Adidas"):
        company_upsert(name=name, domain=f"{name.lower()}.example")
    assert names(client.get("/brands/?sort=name").content.decode()) == ["Adidas", "ASOS", "easyJet", "eBay", "Zooplus"]
    api = visitor.get("/api/brands/", {"ordering": "name"}).json()
    assert [brand["name"] for brand in api["results"]] == ["Adidas", "ASOS", "easyJet", "eBay", "Zooplus"]


def test_list_shows_cards_with_words_categories_and_an_invitation(client, catalog):
    company_upsert(name="Fresh Start", domain="fresh.example")
    page = client.get("/brands/").content.decode()
    assert 'class="brand-grid"' in page
    assert "<strong>Excellent</strong> · 2 reviews" in page  # Acme Boots, 5.0
    assert "<strong>Average</strong> · 3 reviews" in page  # Zed Shoes, 3.0
    assert 'No reviews yet — <a class="brand-card-first" href="/?brand=fresh-start">be the first</a>' in page
    assert "No rating" not in page and "0 reviews" not in page
    # Top-level categories as links that filter the list; a sub-category shows on its brand's card.
    assert re.search(r'<a href="\?category=fashion"[^>]*>Fashion</a>', page)
    assert 'class="brand-card-category">Boots<' in page


def test_an_empty_list_says_what_to_do(client, catalog):
    page = client.get("/brands/?q=zzz&category=books").content.decode()
    assert 'id="brand-empty"' in page and "No brand matches “zzz” in Books" in page
    assert '<a class="button" href="/brands/">Show all brands</a>' in page


def test_unknown_brand_and_page_get_a_styled_404_with_a_way_back(client, catalog):
    response = client.get("/brands/no-such-brand/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that brand" in page
    assert 'class="site-header"' in page and 'href="/brands/"' in page and 'action="/brands/"' in page
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "We could not find that page" in response.content.decode()


def test_a_server_error_gets_a_styled_page_with_a_way_back(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/brands/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert '<link rel="stylesheet" href="/static/css/site.css">' in page and 'href="/brands/"' in page


def test_star_counts_read_as_words_people_say(client, catalog):
    acme = catalog["acme"]
    scraped(acme, 1, 1, text="One star, sadly.")
    page = client.get(f"/brands/{acme.slug}/").content.decode()
    assert "1 stars" not in page
    assert 'aria-label="1 star: 33%"' in page and ">1 star</a>" in page


def test_a_crawled_logo_address_is_never_linked(client, visitor):
    company = company_upsert(name="Hotlink", domain="hotlink.example")
    Company.objects.filter(pk=company.pk).update(source_logo_url="https://cdn.reviews.example/logo.png")
    pages = [
        client.get("/brands/").content.decode(),
        client.get(f"/brands/{company.slug}/").content.decode(),
        client.get(f"/?brand={company.slug}").content.decode(),
        visitor.get(f"/api/brands/{company.slug}/").content.decode(),
    ]
    assert all("cdn.reviews.example" not in page for page in pages)
    logo = client.get(f"/brands/{company.slug}/logo.svg").content.decode()
    assert "cdn.reviews.example" not in logo and ">H</text>" in logo
    assert logo == client.get(f"/brands/{company.slug}/logo.svg").content.decode()  # the same drawing each time


@pytest.mark.django_db
def test_a_brand_description_staff_wrote_is_on_its_page_and_in_the_api(client):
    from tests.factories import company_create

    company = company_create(name="Kettle Club")
    Company.objects.filter(pk=company.pk).update(description="Kettles and teapots, shipped across Europe.")

    page = client.get(f"/brands/{company.slug}/").content.decode()
    api = client.get(f"/api/brands/{company.slug}/").json()

    assert 'id="brand-description">Kettles and teapots, shipped across Europe.</p>' in page
    assert api["description"] == "Kettles and teapots, shipped across Europe."


@pytest.mark.django_db
def test_a_collected_review_shows_its_date_of_experience(client):
    from datetime import datetime

    from tests.factories import company_create

    company = company_create(name="Kettle Club")
    scraped_review_create(company=company, text="Lovely kettle.", experienced_at=datetime(2026, 3, 2, tzinfo=UTC))

    page = client.get(f"/brands/{company.slug}/").content.decode()

    assert 'Date of experience: <time datetime="2026-03-02">2 March 2026</time>' in page
