"""Live quality per model: the selector against figures worked out by hand, the staff API and the admin page.

The reviews (chosen ★, suggested ★, how the rating was given), all at noon UTC:

charcnn-7, week of Mon 2026-01-05 (on Tue 01-06):  5/5 accepted, 4/5 picked, 2/4 picked
charcnn-7, week of Mon 2026-01-12 (on Tue 01-13):  3/3 picked, 1/2 picked, 4/4 accepted, 5/4 unknown source
fasttext-2, on Tue 2025-12-30:                      1/5 picked, 5/1 picked, 4/4 accepted
left out: a hidden 1/5 review of charcnn-7 and a review with no suggestion.

charcnn-7, all 7: exact 3/7, within one 6/7, MAE (0+1+2+0+1+0+1)/7 = 5/7, acceptance 2 of 6 known.
  labels (chosen → suggested): good→good ×4, bad→good, average→average, bad→bad
  F1 good = 2·4/(4+5) = 8/9, bad = 2·1/(2+1) = 2/3, average = 1  →  macro-F1 = 23/27
  picked only (4/5, 2/4, 3/3, 1/2): exact 1/4, within one 3/4, MAE 1,
  F1 good = 2·1/(1+2) = 2/3, bad = 2/3, average = 1  →  7/9
fasttext-2: exact 1/3, within one 1/3, MAE 8/3, acceptance 1/3; labels bad→good, good→bad, good→good:
  F1 good = 2·1/(2+2) = 1/2, bad = 0, average absent from both (not counted)  →  1/4
  picked only: exact 0, within one 0, MAE 4, macro-F1 0.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from reviews.models import UserReview
from reviews.quality import live_quality, live_quality_window, macro_f1
from tests.conftest import admin_sign_in, chromium, in_the_browser
from tests.factories import company_create, user_review_create_row

pytestmark = pytest.mark.django_db

PICKED, ACCEPTED = UserReview.RatingSource.PICKED, UserReview.RatingSource.ACCEPTED
URL = "/api/staff/live-metrics/"


def reviewed(model: str, rating: int, suggested: int | None, source: str | None, day: date, **fields) -> UserReview:
    """A visitor's review scored by `model`, written at noon UTC on `day`."""
    company = company_create(name="Acme Boots")
    review = user_review_create_row(
        company=company,
        rating=rating,
        suggested_rating=suggested,
        rating_source=source,
        model_name=model,
        **fields,
    )
    written = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    UserReview.objects.filter(pk=review.pk).update(created_at=written)  # created_at is set on insert
    return review


@pytest.fixture
def reviews() -> None:
    first_week, second_week = date(2026, 1, 6), date(2026, 1, 13)
    reviewed("charcnn-7", 5, 5, ACCEPTED, first_week)
    reviewed("charcnn-7", 4, 5, PICKED, first_week)
    reviewed("charcnn-7", 2, 4, PICKED, first_week)
    reviewed("charcnn-7", 3, 3, PICKED, second_week)
    reviewed("charcnn-7", 1, 2, PICKED, second_week)
    reviewed("charcnn-7", 4, 4, ACCEPTED, second_week)
    reviewed("charcnn-7", 5, 4, None, second_week)
    reviewed("charcnn-7", 1, 5, PICKED, second_week, status=UserReview.Status.HIDDEN)
    reviewed("charcnn-7", 3, None, PICKED, second_week)
    reviewed("fasttext-2", 1, 5, PICKED, date(2025, 12, 30))
    reviewed("fasttext-2", 5, 1, PICKED, date(2025, 12, 30))
    reviewed("fasttext-2", 4, 4, ACCEPTED, date(2025, 12, 30))


def by_model(models) -> dict:
    return {quality.model: quality for quality in models}


def test_each_model_gets_its_figures_without_hidden_or_unsuggested_reviews(reviews):
    models = live_quality()

    assert [quality.model for quality in models] == ["charcnn-7", "fasttext-2"]  # newest-serving first
    charcnn, fasttext = models
    assert charcnn.reviews == 7
    assert charcnn.exact == pytest.approx(3 / 7)
    assert charcnn.within_one == pytest.approx(6 / 7)
    assert charcnn.mae == pytest.approx(5 / 7)
    assert charcnn.macro_f1 == pytest.approx(23 / 27)
    assert (charcnn.accepted, charcnn.picked) == (2, 4)
    assert charcnn.acceptance_rate == pytest.approx(2 / 6)
    assert charcnn.first_review_at == datetime(2026, 1, 6, 12, tzinfo=UTC)
    assert charcnn.last_review_at == datetime(2026, 1, 13, 12, tzinfo=UTC)
    assert fasttext.reviews == 3
    assert fasttext.exact == pytest.approx(1 / 3)
    assert fasttext.within_one == pytest.approx(1 / 3)
    assert fasttext.mae == pytest.approx(8 / 3)
    assert fasttext.macro_f1 == pytest.approx(1 / 4)
    assert fasttext.acceptance_rate == pytest.approx(1 / 3)


def test_picked_only_figures_leave_out_accepted_suggestions(reviews):
    charcnn, fasttext = live_quality()

    assert charcnn.picked_exact == pytest.approx(1 / 4)
    assert charcnn.picked_within_one == pytest.approx(3 / 4)
    assert charcnn.picked_mae == pytest.approx(1.0)
    assert charcnn.picked_macro_f1 == pytest.approx(7 / 9)
    assert (fasttext.picked_exact, fasttext.picked_within_one, fasttext.picked_mae) == (0, 0, 4)
    assert fasttext.picked_macro_f1 == 0


def test_macro_f1_averages_over_the_labels_present_in_either_side():
    only_good_and_bad = Counter({("bad", "good"): 1, ("good", "bad"): 1, ("good", "good"): 1})
    predicted_only = Counter({("good", "good"): 1, ("good", "average"): 1})

    assert macro_f1(only_good_and_bad) == pytest.approx(1 / 4)  # not (1/2 + 0 + 0) / 3
    assert macro_f1(predicted_only) == pytest.approx((2 / 3 + 0) / 2)  # average was only suggested: F1 0
    assert macro_f1(Counter()) is None


def test_the_series_gives_the_same_figures_per_week_and_per_day(reviews):
    weekly = by_model(live_quality(period="week"))["charcnn-7"].series
    daily = by_model(live_quality(period="day"))["fasttext-2"].series

    assert [(period.period_start, period.reviews) for period in weekly] == [
        (date(2026, 1, 5), 3),
        (date(2026, 1, 12), 4),
    ]
    assert weekly[0].exact == pytest.approx(1 / 3)
    assert weekly[1].exact == pytest.approx(2 / 4)
    assert weekly[1].acceptance_rate == pytest.approx(1 / 3)  # 3/3 and 1/2 picked, 4/4 accepted, 5/4 unknown
    assert [(period.period_start, period.reviews) for period in daily] == [(date(2025, 12, 30), 3)]


def test_since_and_until_limit_the_reviews_by_when_they_were_written(reviews):
    since, until = live_quality_window(since="2026-01-12")
    later = live_quality(since=since, until=until)
    since, until = live_quality_window(until="2026-01-06")  # a date counts its whole day
    earlier = by_model(live_quality(since=since, until=until))

    assert [(quality.model, quality.reviews) for quality in later] == [("charcnn-7", 4)]
    assert later[0].exact == pytest.approx(2 / 4)
    assert {model: quality.reviews for model, quality in earlier.items()} == {"charcnn-7": 3, "fasttext-2": 3}


def test_no_reviews_means_no_models():
    assert live_quality() == []


def test_staff_get_every_model_with_its_figures(reviews, staff):
    response = staff.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert [model["model"] for model in body["models"]] == ["charcnn-7", "fasttext-2"]
    charcnn = body["models"][0]
    assert charcnn["reviews"] == 7
    assert charcnn["exact"] == round(3 / 7, 4)
    assert charcnn["within_one"] == round(6 / 7, 4)
    assert charcnn["macro_f1"] == round(23 / 27, 4)
    assert charcnn["mae"] == round(5 / 7, 4)
    assert charcnn["acceptance_rate"] == round(1 / 3, 4)
    assert charcnn["picked_exact"] == 0.25
    assert charcnn["first_review_at"] == "2026-01-06T12:00:00Z"
    assert [period["period_start"] for period in charcnn["series"]] == ["2026-01-05", "2026-01-12"]
    assert body["period"] == "week"


def test_since_until_and_period_are_read_from_the_query(reviews, staff):
    body = staff.get(URL, {"since": "2026-01-12T00:00:00Z", "until": "2026-02-01", "period": "day"}).json()

    assert [(model["model"], model["reviews"]) for model in body["models"]] == [("charcnn-7", 4)]
    assert body["since"] == "2026-01-12T00:00:00Z"
    assert body["until"] == "2026-02-02T00:00:00Z"
    assert [period["period_start"] for period in body["models"][0]["series"]] == ["2026-01-13"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "last tuesday"}, "since"),
        ({"since": "2026-02-30"}, "since"),
        ({"until": "2026-13-01T00:00:00"}, "until"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ({"period": "fortnight"}, "period"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(query, field, staff):
    response = staff.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]


def test_visitors_and_non_staff_users_are_refused(visitor, outsider):
    assert visitor.get(URL).status_code == 403
    assert outsider.get(URL).status_code == 403
    assert outsider.get(URL).json()["error"]["code"] == "permission_denied"


def live_quality_page() -> str:
    from django.urls import reverse

    return reverse("admin:ml_modelversion_live_quality")


def test_staff_see_the_figures_and_charts_in_the_admin(reviews, staff):
    response = staff.get(live_quality_page())

    assert response.status_code == 200
    html = response.content.decode()
    assert "charcnn-7" in html and "fasttext-2" in html
    assert "42.9%" in html  # exact, 3 of 7
    assert "0.852" in html  # macro-F1, 23/27
    assert "33.3%" in html  # accepted, 2 of 6
    assert "25.0%" in html  # picked-only exact, 1 of 4
    assert html.count("<figure><svg") == 6  # the charts (the admin adds icons of its own)
    assert "6 Jan 2026 – 13 Jan 2026" in html


def test_the_admin_page_filters_by_date_and_explains_a_bad_one(reviews, staff):
    later = staff.get(live_quality_page(), {"since": "2026-01-12"}).content.decode()
    backwards = staff.get(live_quality_page(), {"since": "2026-02-01", "until": "2026-01-01"}).content.decode()
    empty = staff.get(live_quality_page(), {"since": "2027-01-01"}).content.decode()

    assert "charcnn-7" in later and "fasttext-2" not in later
    assert "until must be later than since." in backwards
    assert "No reviews with a suggestion were written in this window" in empty
    assert "<figure><svg" not in empty


def test_the_admin_page_says_when_there_is_nothing_to_show_yet(staff):
    html = staff.get(live_quality_page()).content.decode()

    assert "No reviews with a suggestion yet." in html


def test_the_model_versions_list_links_to_live_quality(staff):
    html = staff.get("/admin/ml/modelversion/").content.decode()

    assert f'href="{live_quality_page()}"' in html


def test_non_staff_users_are_sent_to_the_admin_sign_in(outsider):
    response = outsider.get(live_quality_page())

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_reviews_without_a_model_name_are_counted_under_one_name():
    reviewed("", 4, 4, PICKED, date(2026, 1, 6))

    assert [(quality.model, quality.reviews) for quality in live_quality()] == [("(unnamed)", 1)]


@in_the_browser
@pytest.mark.django_db(transaction=True)
def test_the_page_fits_a_1280_pixel_window_in_chromium(reviews, staff_user, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium("--window-size=1280,900")
    try:
        admin_sign_in(driver, live_server.url, staff_user, live_quality_page())
        charts = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".live-charts svg"))
        widths = [chart.size["width"] for chart in charts]
        page_width = driver.execute_script("return document.documentElement.scrollWidth")
        window_width = driver.execute_script("return window.innerWidth")
    finally:
        driver.quit()

    assert len(charts) == 6
    assert all(width > 300 for width in widths)  # two to a row, readable
    assert page_width <= window_width  # no sideways scrolling
