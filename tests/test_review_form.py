"""The review form at `/`: a random brand, a stored review per submission, errors next to the field."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from brands.models import Company
from brands.services import company_upsert
from core.privacy import hash_ip
from reviews.models import UserReview

pytestmark = pytest.mark.django_db

POSITIVE = "Wonderful service, friendly staff and fast delivery. I love it and recommend them!"


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the review form in a page."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def shown_brand(client: Client, path: str = "/") -> tuple[str, dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200
    fields = form_fields(response.content.decode())
    return fields["brand"], fields


def test_home_shows_a_form_for_an_active_brand(client, brands):
    company_upsert(name="Closed Shop", domain="closed.example", is_active=False)
    for _ in range(10):
        slug, _ = shown_brand(client)
        assert slug in {b.slug for b in brands}
    response = client.get("/")
    page = response.content.decode()
    assert "What do you think of" in page
    assert '<label for="id_text">Tell us about your experience</label>' in page
    # The stars are asked first, above the text, and none is chosen for the visitor.
    assert page.index('name="rating"') < page.index('name="text"')
    assert "checked" not in page
    assert 'aria-live="polite"' in page
    assert 'minlength="10"' in page and 'maxlength="5000"' in page
    assert "csrfmiddlewaretoken" in page
    assert "<script>" not in page and " style=" not in page and "onclick" not in page


def test_lengths_follow_settings(client, brands, settings):
    settings.REVIEW_MIN_CHARS, settings.REVIEW_MAX_CHARS = 25, 300
    page = client.get("/").content.decode()
    assert 'minlength="25"' in page and 'maxlength="300"' in page
    assert "25 to 300 characters" in page


def test_brand_parameter_picks_that_brand(client, brands):
    slug, _ = shown_brand(client, f"/?brand={brands[1].slug}")
    assert slug == brands[1].slug


def test_submit_stores_one_review_scored_on_the_server(client, brands):
    slug, fields = shown_brand(client)
    response = client.post(
        "/",
        {**fields, "text": POSITIVE, "rating": "3", "score": "0.01", "suggested_rating": "1"},
        headers={"user-agent": "StarlingTest/1.0"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    assert response["Location"] == f"/?after={slug}"
    review = UserReview.objects.get()
    assert review.company.slug == slug
    assert review.text == POSITIVE
    assert review.rating == 3
    assert review.rating_source == UserReview.RatingSource.PICKED  # a star the visitor clicked
    assert review.suggested_rating in (4, 5)  # the server's score, not the forged one
    assert review.score > 0.67
    assert set(review.probabilities) == {"bad", "average", "good"}
    assert review.model_name
    assert review.ip_hash == hash_ip("203.0.113.7") and "203.0.113.7" not in review.ip_hash
    assert review.user_agent == "StarlingTest/1.0"
    assert review.status == UserReview.Status.VISIBLE
    company = Company.objects.get(slug=slug)
    assert company.user_review_count == 1 and company.stars_3 == 1

    thanks = client.get(response["Location"])
    page = thanks.content.decode()
    assert f"Thank you for reviewing {company.name}" in page
    assert form_fields(page)["brand"] != slug  # the next brand is another one


def test_the_same_form_sent_twice_stores_one_review(client, brands):
    _, fields = shown_brand(client)
    data = {**fields, "text": POSITIVE, "rating": "5"}
    first = client.post("/", data)
    second = client.post("/", data)
    assert first.status_code == second.status_code == 302
    assert UserReview.objects.count() == 1
    # A fresh form is a fresh token: a second review of the same brand is allowed.
    _, fields = shown_brand(client, f"/?brand={fields['brand']}")
    client.post("/", {**fields, "text": POSITIVE, "rating": "4"})
    assert UserReview.objects.count() == 2


def test_too_short_text_is_refused_next_to_the_field(client, brands):
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": "  meh  ", "rating": "2"})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'id="text-errors"><li>Write at least 10 characters', page)
    assert 'aria-invalid="true"' in page
    assert ">  meh  </textarea>" in page  # what they typed is kept
    assert 'id="rating-2" value="2" required checked' in page
    assert UserReview.objects.count() == 0
    # The same token still works once the text is fixed.
    assert client.post("/", {**fields, "text": POSITIVE, "rating": "2"}).status_code == 302
    assert UserReview.objects.count() == 1


def test_too_long_text_and_missing_rating_are_refused(client, brands, settings):
    settings.REVIEW_MAX_CHARS = 50
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": "x" * 51})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Keep it to 50 characters (this is 51)" in page
    assert "Choose your rating: click a star from 1 to 5, or use the suggestion." in page
    response = client.post("/", {**fields, "text": POSITIVE, "rating": "6"})
    assert "Choose a rating from 1 to 5 stars." in response.content.decode()
    assert UserReview.objects.count() == 0


def test_a_forged_token_is_refused(client, brands):
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "form_token": "not-signed", "text": POSITIVE, "rating": "4"})
    assert response.status_code == 400
    assert "This form has expired" in response.content.decode()
    assert UserReview.objects.count() == 0


def test_an_inactive_brand_is_refused_and_another_offered(client, brands):
    _, fields = shown_brand(client, f"/?brand={brands[0].slug}")
    Company.objects.filter(pk=brands[0].pk).update(is_active=False)
    response = client.post("/", {**fields, "text": POSITIVE, "rating": "4"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "no longer open for reviews" in page
    assert form_fields(page)["brand"] != brands[0].slug
    assert UserReview.objects.count() == 0


def test_csrf_is_enforced(brands):
    client = Client(enforce_csrf_checks=True)
    _, fields = shown_brand(client)
    fields.pop("csrfmiddlewaretoken", None)
    response = client.post("/", {**fields, "text": POSITIVE, "rating": "4"})
    assert response.status_code == 403
    assert UserReview.objects.count() == 0


def test_visitor_text_is_escaped_when_shown_again(client, brands):
    _, fields = shown_brand(client)
    evil = '</textarea><script>alert("x")</script> short'
    response = client.post("/", {**fields, "text": evil, "rating": "1", "brand": fields["brand"]}, follow=False)
    if response.status_code == 302:  # long enough to be stored: check its brand page
        response = client.get(f"/brands/{fields['brand']}/")
    page = response.content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_next_brand_json_avoids_excluded_brands(client, brands):
    for _ in range(10):
        data = client.get("/next-brand/", {"exclude": [brands[0].slug, brands[1].slug]}).json()
        assert data["brand"]["slug"] == brands[2].slug
    brand = data["brand"]
    assert brand == {
        "slug": brands[2].slug,
        "name": "Corner Books",
        "website": "https://cornerbooks.example/",
        "url": f"/brands/{brands[2].slug}/",
        "logo": f"/brands/{brands[2].slug}/logo.svg",
    }
    assert data["form_token"]
    # With every brand excluded one is still offered, never the last one shown when others exist.
    for _ in range(10):
        data = client.get("/next-brand/", {"exclude": [b.slug for b in brands]}).json()
        assert data["brand"]["slug"] in {brands[0].slug, brands[1].slug}


def test_a_javascript_website_is_never_linked(client):
    company = Company.objects.create(name="Sneaky", slug="sneaky", website="javascript:alert(1)")
    data = client.get("/next-brand/").json()
    assert data["brand"]["slug"] == company.slug
    assert data["brand"]["website"] == ""
    assert "javascript:" not in client.get("/").content.decode()


def test_no_brands_yet_says_what_to_do(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "python manage.py load_brands" in response.content.decode()
    assert client.get("/next-brand/").status_code == 404


def test_head_requests_are_answered(client, brands):
    assert client.head("/").status_code == 200
    assert client.head("/next-brand/").status_code == 200
    assert client.head("/brands/").status_code == 200
    assert client.head(f"/brands/{brands[0].slug}/").status_code == 200
    assert client.put("/").status_code == 405


# Honest suggestions: a suggestion is offered, never chosen for the visitor.


def checked_star(page: str) -> str | None:
    found = re.search(r'id="rating-(\d)" value="\d" required checked', page)
    return found.group(1) if found else None


def test_use_suggestion_without_javascript_stores_the_suggestion_as_accepted(client, brands):
    _, fields = shown_brand(client)
    # "Use suggestion" is a submit button carrying the suggested stars; no star radio is sent.
    response = client.post("/", {**fields, "text": POSITIVE, "use_suggestion": "5"})
    assert response.status_code == 302
    review = UserReview.objects.get()
    assert (review.rating, review.rating_source) == (5, UserReview.RatingSource.ACCEPTED)


def test_the_script_marks_an_accepted_suggestion(client, brands):
    _, fields = shown_brand(client)
    client.post("/", {**fields, "text": POSITIVE, "rating": "4", "rating_source": "accepted"})
    assert UserReview.objects.get().rating_source == UserReview.RatingSource.ACCEPTED


def test_submit_without_a_rating_the_visitor_gave_is_refused(client, brands):
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": POSITIVE, "rating_source": "accepted"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose your rating: click a star from 1 to 5, or use the suggestion." in page
    assert f">{POSITIVE}</textarea>" in page  # nothing lost
    assert UserReview.objects.count() == 0


def test_after_an_error_an_accepted_suggestion_comes_back_as_a_suggestion_only(client, brands):
    _, fields = shown_brand(client)
    response = client.post(
        "/", {**fields, "text": "Great! Love", "rating": "5", "rating_source": "accepted", "title": "x" * 101}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert checked_star(page) is None  # not shown as if the visitor had chosen it
    assert re.search(r'<div class="suggestion" id="suggestion">', page)  # offered again, as a suggestion
    assert re.search(r'name="use_suggestion" value="[1-5]"', page)
    assert "Keep it to 100 characters" in page
    # Stars the visitor picked themselves do come back.
    response = client.post("/", {**fields, "text": "Great! Love", "rating": "5", "title": "x" * 101})
    assert checked_star(response.content.decode()) == "5"


def test_suggest_button_without_javascript_scores_the_text_and_stores_nothing(client, brands):
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": POSITIVE, "suggest": "1", "title": "Lovely"})
    assert response.status_code == 200
    page = response.content.decode()
    suggested = re.search(r'name="use_suggestion" value="([1-5])"', page).group(1)
    assert suggested in ("4", "5")
    assert f'Suggested: <strong id="suggested-value">{suggested}</strong>★' in page
    assert "Suggested: " + suggested + " stars" in page  # what a screen reader hears
    assert checked_star(page) is None
    assert f">{POSITIVE}</textarea>" in page and 'value="Lovely"' in page
    assert UserReview.objects.count() == 0
    # The same form then stores the review, accepted from the suggestion.
    assert client.post("/", {**fields, "text": POSITIVE, "use_suggestion": suggested}).status_code == 302
    assert UserReview.objects.get().rating_source == UserReview.RatingSource.ACCEPTED


def test_screen_readers_hear_one_star_not_one_stars(client, brands):
    page = client.get("/").content.decode()
    assert "1 star, Bad" in page and "2 stars, Poor" in page
    assert "1 stars" not in page


# The form token is tied to its brand.


def test_a_token_from_one_brands_form_cannot_post_for_another(client, brands):
    _, fields = shown_brand(client, f"/?brand={brands[0].slug}")
    response = client.post("/", {**fields, "brand": brands[1].slug, "text": POSITIVE, "rating": "5"})
    assert response.status_code == 400
    assert "This form was opened for another brand" in response.content.decode()
    assert UserReview.objects.count() == 0
    # The token of the brand "Review another brand" switched to works for that brand only.
    data = client.get("/next-brand/", {"exclude": [brands[0].slug, brands[1].slug]}).json()
    other = {**fields, "form_token": data["form_token"], "text": POSITIVE, "rating": "5"}
    assert client.post("/", {**other, "brand": brands[0].slug}).status_code == 400
    assert client.post("/", {**other, "brand": brands[2].slug}).status_code == 302
    assert UserReview.objects.get().company == brands[2]


# Name, title and date of experience.


def test_name_title_and_date_of_experience_are_stored_and_shown(client, brands):
    _, fields = shown_brand(client, f"/?brand={brands[0].slug}")
    details = {"display_name": "  Sam P. ", "title": "Comfy boots", "experienced_on": "2026-01-15"}
    assert client.post("/", {**fields, "text": POSITIVE, "rating": "4", **details}).status_code == 302
    review = UserReview.objects.get()
    assert (review.display_name, review.title, str(review.experienced_on)) == ("Sam P.", "Comfy boots", "2026-01-15")
    page = client.get(f"/brands/{brands[0].slug}/").content.decode()
    assert "Sam P." in page and "Comfy boots" in page and "Date of experience: <time" in page


def test_a_date_of_experience_in_the_future_is_refused_next_to_the_field(client, brands):
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": POSITIVE, "rating": "4", "experienced_on": "2999-01-01"})
    assert response.status_code == 400
    assert re.search(
        r'id="date-errors"><li>The date of your experience cannot be in the future', response.content.decode()
    )
    assert UserReview.objects.count() == 0


def test_anonymous_when_no_name_is_given(client, brands):
    _, fields = shown_brand(client, f"/?brand={brands[0].slug}")
    client.post("/", {**fields, "text": POSITIVE, "rating": "4"})
    assert ">Anonymous<small>" in client.get(f"/brands/{brands[0].slug}/").content.decode()


# Unknown brands and the review budget.


def test_an_unknown_brand_says_so_and_offers_another(client, brands):
    response = client.get("/?brand=no-such-brand")
    page = response.content.decode()
    assert response.status_code == 200
    assert "We could not find that brand; here is another." in page
    assert form_fields(page)["brand"] in {b.slug for b in brands}
    Company.objects.filter(pk=brands[0].pk).update(is_active=False)
    page = client.get(f"/?brand={brands[0].slug}").content.decode()
    assert "Acme Boots is not open for reviews right now; here is another brand." in page
    assert "We could not find" not in client.get(f"/?brand={brands[1].slug}").content.decode()


@pytest.mark.usefixtures("empty_cache")
def test_past_the_review_budget_the_form_answers_429_and_keeps_the_text(client, brands, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "review_create": "1/min"},
    }
    _, fields = shown_brand(client)
    assert client.post("/", {**fields, "text": POSITIVE, "rating": "4"}).status_code == 302
    _, fields = shown_brand(client)
    response = client.post("/", {**fields, "text": POSITIVE, "rating": "4", "title": "Second"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    page = response.content.decode()
    assert re.search(r'id="form-errors">\s*<li>Too many reviews', page)
    assert f">{POSITIVE}</textarea>" in page and 'value="Second"' in page and checked_star(page) == "4"
    assert UserReview.objects.count() == 1
