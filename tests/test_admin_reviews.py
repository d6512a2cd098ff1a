"""Staff work through scraped and visitors' reviews in the admin: fast lists, filters, actions, a summary."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brands.models import Company
from brands.services import category_upsert, company_upsert
from crawling.models import CrawlRun
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview, UserReview
from reviews.services import company_refresh_aggregates
from tests.conftest import admin_sign_in, chromium, in_the_browser

pytestmark = pytest.mark.django_db

SCRAPED = reverse("admin:reviews_scrapedreview_changelist")
VISITORS = reverse("admin:reviews_userreview_changelist")
_ids = itertools.count()


@pytest.fixture
def companies() -> list[Company]:
    sports = category_upsert(name="Sports")
    acme = company_upsert(name="Acme Rockets", domain="acme.example")
    acme.categories.add(category_upsert(name="Gym", parent=sports))
    return [acme, company_upsert(name="Bolt Bikes", domain="bolt.example")]


def add_scraped(count: int, companies: list[Company], **fields) -> list[ScrapedReview]:
    runs = [CrawlRun.objects.create(), CrawlRun.objects.create()]
    rows = []
    for n in range(count):
        stars = fields.get("stars", n % 5 + 1)
        rows.append(
            ScrapedReview(
                company=companies[n % len(companies)],
                source="trustpilot",
                source_id=f"r{next(_ids)}",
                stars=stars,
                label=stars_to_label(stars),
                text=fields.get("text", f"Scraped review number {n}"),
                language=fields.get("language", "en" if n % 3 else "de"),
                crawl_run=runs[n % 2],
            )
        )
    return ScrapedReview.objects.bulk_create(rows)


def add_visitor_reviews(count: int, companies: list[Company], pairs=((5, 5), (4, 2), (1, 3), (3, None))):
    rows = [
        UserReview(
            company=companies[n % len(companies)],
            text=f"Visitor review number {n}",
            rating=rating,
            suggested_rating=suggested,
            score=None if suggested is None else (suggested - 1) / 4,
            model_name="lexicon-vader",
        )
        for n, (rating, suggested) in zip(range(count), itertools.cycle(pairs), strict=False)
    ]
    return UserReview.objects.bulk_create(rows)


def get(client, url: str, params: dict | None = None) -> str:
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response.content.decode()


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    return len(captured)


def test_scraped_review_list_costs_the_same_queries_for_30_or_300_rows(admin_client, companies):
    add_scraped(30, companies)
    few = queries_for(admin_client, SCRAPED)

    add_scraped(270, companies)

    assert queries_for(admin_client, SCRAPED) == few
    assert few <= 20


def test_visitor_review_list_costs_the_same_queries_for_30_or_300_rows(admin_client, companies):
    add_visitor_reviews(30, companies)
    few = queries_for(admin_client, VISITORS)

    add_visitor_reviews(270, companies)

    assert queries_for(admin_client, VISITORS) == few
    assert few <= 20


def test_scraped_reviews_filter_by_stars_label_language_company_category_and_crawl_run(admin_client, companies):
    acme, bolt = companies
    one_star = add_scraped(1, [acme], stars=1, text="Rockets exploded", language="fr")[0]
    five_star = add_scraped(1, [bolt], stars=5, text="Bikes are lovely", language="en")[0]

    assert "Rockets exploded" not in get(admin_client, SCRAPED, {"stars": 5})
    assert "Bikes are lovely" in get(admin_client, SCRAPED, {"label__exact": "good"})
    assert "Bikes are lovely" not in get(admin_client, SCRAPED, {"language": "fr"})
    by_company = get(admin_client, SCRAPED, {"company": "bolt"})
    assert "Bikes are lovely" in by_company and "Rockets exploded" not in by_company
    assert "Rockets exploded" not in get(admin_client, SCRAPED, {"company": "bolt.example"})
    by_category = get(admin_client, SCRAPED, {"category": "Sports"})
    assert "Rockets exploded" in by_category and "Bikes are lovely" not in by_category
    by_run = get(admin_client, SCRAPED, {"crawl_run": str(five_star.crawl_run_id)})
    assert "Bikes are lovely" in by_run and "Rockets exploded" not in by_run
    assert f"Crawl #{one_star.crawl_run_id}" in get(admin_client, SCRAPED)


def test_excluding_and_including_rows_in_the_dataset(admin_client, companies):
    first, second = add_scraped(2, companies)

    response = admin_client.post(
        SCRAPED, {"action": "exclude_from_dataset", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "2 reviews excluded from the dataset." in response.content.decode()
    assert ScrapedReview.objects.filter(excluded=True).count() == 2
    assert "Scraped review number 0" in get(admin_client, SCRAPED, {"excluded__exact": "1"})

    admin_client.post(SCRAPED, {"action": "include_in_dataset", "_selected_action": [first.pk]})

    assert list(ScrapedReview.objects.filter(excluded=True)) == [second]


def test_scraped_review_page_is_read_only_apart_from_the_dataset_flag(admin_client, companies):
    review = add_scraped(1, companies)[0]
    url = reverse("admin:reviews_scrapedreview_change", args=[review.pk])

    page = get(admin_client, url)
    admin_client.post(url, {"excluded": "on", "stars": "1", "text": "Rewritten"})

    review.refresh_from_db()
    assert review.excluded and review.text == "Scraped review number 0"
    assert reverse("admin:brands_company_change", args=[review.company_id]) in page
    assert admin_client.get(reverse("admin:reviews_scrapedreview_add")).status_code == 403


def test_suggestion_column_filter_and_summary_follow_the_filters(admin_client, companies):
    acme, bolt = companies
    add_visitor_reviews(4, [acme])  # kept, up by 2, down by 2, no suggestion
    add_visitor_reviews(2, [bolt], pairs=((5, 5), (5, 5)))  # both kept

    page = get(admin_client, VISITORS)
    assert "kept" in page and "+2" in page and "-2" in page
    assert "<strong>40%</strong> of the 5 visitors shown a suggestion" in page
    assert "1 up, 1 down" in page and "0.80 stars" in page

    up_only = get(admin_client, VISITORS, {"suggestion": "up"})
    assert "Visitor review number 1" in up_only and "Visitor review number 0" not in up_only
    assert "<strong>100%</strong> of the 1 visitors" in up_only and "2.00 stars" in up_only

    bolt_only = get(admin_client, VISITORS, {"company": "bolt"})
    assert "<strong>0%</strong> of the 2 visitors" in bolt_only and "0.00 stars" in bolt_only


def test_hiding_and_showing_visitor_reviews_updates_the_brand(admin_client, companies):
    acme = companies[0]
    first, _kept_one_star = add_visitor_reviews(2, [acme], pairs=((5, 5), (1, 1)))
    company_refresh_aggregates([acme.pk])

    response = admin_client.post(VISITORS, {"action": "hide", "_selected_action": [first.pk]}, follow=True)

    assert "1 reviews hidden." in response.content.decode()
    acme.refresh_from_db()
    assert (acme.user_review_count, acme.stars_5, acme.stars_1) == (1, 0, 1)
    assert "Visitor review number 0" not in get(admin_client, VISITORS, {"status__exact": "visible"})

    admin_client.post(VISITORS, {"action": "show", "_selected_action": [first.pk]})

    acme.refresh_from_db()
    assert (acme.user_review_count, acme.stars_5) == (2, 1)


def test_a_staff_member_with_review_permissions_can_hide_a_review_from_its_page(client, companies):
    staff = User.objects.create_user("moderator", password="pw-for-tests-only", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_userreview", "change_userreview", "view_company"])
    )
    client.force_login(staff)
    review = add_visitor_reviews(1, companies)[0]
    company_refresh_aggregates([review.company_id])
    url = reverse("admin:reviews_userreview_change", args=[review.pk])

    page = get(client, url)
    response = client.post(url, {"status": "hidden"})

    assert response.status_code == 302
    assert "ip_hash" in page or "Ip hash" in page
    review.refresh_from_db()
    review.company.refresh_from_db()
    assert review.status == "hidden" and review.company.user_review_count == 0
    assert client.get(reverse("admin:reviews_scrapedreview_changelist")).status_code == 403


def test_select_all_acts_on_every_matching_row_in_bounded_batches(admin_client, companies, monkeypatch):
    monkeypatch.setattr("brands.admin.ACTION_BATCH_SIZE", 2)
    add_scraped(7, companies)
    add_scraped(2, companies, language="fr")
    on_the_page = list(ScrapedReview.objects.filter(language="en").values_list("pk", flat=True)[:1])

    # "Select all" in the admin: the page's boxes are ticked and select_across covers the rest.
    response = admin_client.post(
        SCRAPED + "?language=en",
        {"action": "exclude_from_dataset", "select_across": "1", "index": "0", "_selected_action": on_the_page},
        follow=True,
    )

    assert "4 reviews excluded from the dataset." in response.content.decode()
    english = ScrapedReview.objects.filter(language="en")
    assert english.count() == 4 and not english.filter(excluded=False).exists()
    assert not ScrapedReview.objects.exclude(language="en").filter(excluded=True).exists()


@in_the_browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", [SCRAPED, "/admin/reviews/userreview/"], ids=["scraped", "visitors"])
def test_review_lists_fit_a_1280_pixel_window_in_chromium(page, companies, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.factories import staff_user_create

    long_text = "Ordered the winter boots in October, they arrived late and the sole came off within a week."
    add_scraped(30, companies, text=long_text)
    add_visitor_reviews(12, companies)
    staff = staff_user_create()
    driver = chromium("--window-size=1280,900")
    try:
        admin_sign_in(driver, live_server.url, staff, page)
        rows = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"))
        page_width = driver.execute_script("return document.documentElement.scrollWidth")
        window_width = driver.execute_script("return window.innerWidth")
        table_width, area_width = driver.execute_script(
            "const table = document.getElementById('result_list');"
            "return [table.scrollWidth, table.closest('.results').clientWidth];"
        )
    finally:
        driver.quit()

    assert rows
    assert page_width <= window_width  # no sideways scrolling of the page
    assert table_width <= area_width  # nor of the list inside it
