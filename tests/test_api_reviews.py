"""GET and POST /api/reviews/: visible reviews only, one creation service, no private fields, throttling."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from brands.models import Company
from core.privacy import hash_ip
from ml.inference import predict
from reviews.models import UserReview
from reviews.services import user_review_create, user_review_set_status
from tests.factories import company_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]  # no throttle counts from before
URL = "/api/reviews/"
REVIEW = {"brand": "acme-shoes", "text": "Nice shoes, fair price.", "rating": 4}
PUBLIC_FIELDS = {
    "id",
    "brand",
    "brand_name",
    "display_name",
    "title",
    "text",
    "rating",
    "rating_source",
    "suggested_rating",
    "score",
    "model",
    "experienced_on",
    "created_at",
}


@pytest.fixture
def client() -> APIClient:
    return APIClient(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="pytest-agent/1.0")


@pytest.fixture
def acme() -> Company:
    return company_create(name="Acme Shoes")


@pytest.fixture
def boots() -> Company:
    return company_create(name="Boots & Co", domain="boots.example")


def write(client: APIClient, **fields):
    return client.post(URL, fields, format="json")


def test_a_review_is_stored_scored_by_the_server_and_returned(client, acme):
    response = write(client, brand="acme-shoes", text="  Lovely shoes, great service, will buy again!  ", rating=4)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["brand"] == "acme-shoes"
    assert body["brand_name"] == "Acme Shoes"
    assert body["text"] == "Lovely shoes, great service, will buy again!"
    assert body["rating"] == 4
    assert body["suggested_rating"] in (4, 5)
    assert 0.5 < body["score"] <= 1
    assert body["model"] == predict("any text")["model"]  # the model the site serves
    stored = UserReview.objects.get(pk=body["id"])
    assert stored.ip_hash and "203.0.113.7" not in stored.ip_hash
    assert stored.user_agent == "pytest-agent/1.0"
    assert stored.score == body["score"]
    acme.refresh_from_db()
    assert acme.user_review_count == 1
    assert acme.stars_4 == 1


def test_a_score_sent_by_the_client_is_ignored(client, acme):
    response = write(
        client, brand="acme-shoes", text="Terrible, broke after a day.", rating=5, score=1, suggested_rating=5
    )

    assert response.status_code == 201
    assert response.json()["score"] < 0.5
    assert response.json()["suggested_rating"] <= 3


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"brand": "acme-shoes", "text": "too short", "rating": 3},
            {"text": ["Ensure this field has at least 10 characters."]},
        ),
        (
            {"brand": "acme-shoes", "text": "x" * 5001, "rating": 3},
            {"text": ["Ensure this field has no more than 5000 characters."]},
        ),
        (
            {"brand": "acme-shoes", "text": "Long enough text", "rating": 6},
            {"rating": ["Ensure this value is less than or equal to 5."]},
        ),
        (
            {"brand": "acme-shoes", "text": "Long enough text", "rating": "five"},
            {"rating": ["A valid integer is required."]},
        ),
        ({"brand": "nope", "text": "Long enough text", "rating": 3}, {"brand": ["No brand with the slug 'nope'."]}),
        ({"text": "Long enough text"}, {"brand": ["This field is required."], "rating": ["This field is required."]}),
    ],
)
def test_invalid_reviews_are_refused_field_by_field_and_nothing_is_stored(client, acme, fields, errors):
    response = write(client, **fields)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == errors
    assert not UserReview.objects.exists()


def test_the_services_own_checks_come_back_in_the_same_format(client, acme):
    Company.objects.filter(pk=acme.pk).update(is_active=False)

    response = write(client, brand="acme-shoes", text="Long enough text", rating=3)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"brand": ["This brand is not open for reviews."]}
    assert not UserReview.objects.exists()


def test_a_logged_in_browser_needs_its_csrf_token(acme, outsider_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(outsider_user)

    response = write(client, brand="acme-shoes", text="Long enough text", rating=3)

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_the_list_shows_visible_reviews_newest_first_without_private_fields(client, acme, boots):
    first = user_review_create(company=acme, text="Good shoes, happy.", rating=5, ip="1.2.3.4", user_agent="ua")
    hidden = user_review_create(company=acme, text="Spam spam spam spam", rating=1, ip="1.2.3.4")
    last = user_review_create(company=boots, text="Boots were fine really.", rating=3)
    user_review_set_status(review_ids=[hidden.pk], status="hidden")

    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [last.pk, first.pk]
    assert all(set(r) == PUBLIC_FIELDS for r in body["results"])
    content = response.content.decode()
    assert "ip_hash" not in content and "user_agent" not in content and first.ip_hash not in content


def test_the_list_filters_by_brand_and_rating(client, acme, boots):
    user_review_create(company=acme, text="Good shoes, happy.", rating=5)
    user_review_create(company=acme, text="Average shoes, meh.", rating=3)
    user_review_create(company=boots, text="Great boots, happy.", rating=5)

    by_brand = client.get(URL, {"brand": "acme-shoes"}).json()
    by_both = client.get(URL, {"brand": "acme-shoes", "rating": 5}).json()

    assert by_brand["count"] == 2
    assert {r["brand"] for r in by_brand["results"]} == {"acme-shoes"}
    assert [r["text"] for r in by_both["results"]] == ["Good shoes, happy."]


def test_bad_list_filters_are_field_errors(client):
    response = client.get(URL, {"brand": "nope", "rating": 9})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "brand": ["No brand with the slug 'nope'."],
        "rating": ["Ensure this value is less than or equal to 5."],
    }


def test_the_list_is_paginated(client, acme):
    for n in range(5):
        user_review_create(company=acme, text=f"Review number {n} is here.", rating=4)

    page = client.get(URL, {"page_size": 2, "page": 2}).json()

    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] and page["previous"]


def test_writing_is_throttled_but_reading_is_not(client, acme, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"review_create": "2/hour"}}

    created = [write(client, brand="acme-shoes", text="Nice shoes, fair price.", rating=4) for _ in range(2)]
    limited = write(client, brand="acme-shoes", text="Nice shoes, fair price.", rating=4)
    reads = [client.get(URL).status_code for _ in range(3)]

    assert [r.status_code for r in created] == [201, 201]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 60
    assert limited.json()["error"]["code"] == "throttled"
    assert reads == [200, 200, 200]
    assert UserReview.objects.count() == 2


def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(client, acme, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"review_create": "1/hour"}}

    first = client.post(URL, REVIEW, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = client.post(URL, REVIEW, format="json", HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert (first.status_code, second.status_code) == (201, 429)
    assert UserReview.objects.get().ip_hash == hash_ip("203.0.113.7")


def test_behind_a_trusted_proxy_the_forwarded_client_counts(client, acme, settings):
    settings.TRUSTED_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"review_create": "1/hour"}}

    first = client.post(URL, REVIEW, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = client.post(URL, REVIEW, format="json", HTTP_X_FORWARDED_FOR="198.51.100.2")
    again = client.post(URL, REVIEW, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 429)
    assert set(UserReview.objects.values_list("ip_hash", flat=True)) == {
        hash_ip("198.51.100.1"),
        hash_ip("198.51.100.2"),
    }


def test_the_apis_rating_counts_as_picked_and_cannot_claim_accepted(client, acme):
    response = write(client, brand="acme-shoes", text="Nice shoes, fair price.", rating=4, rating_source="accepted")
    assert response.status_code == 201
    assert response.json()["rating_source"] == "picked"
    assert UserReview.objects.get().rating_source == UserReview.RatingSource.PICKED


def test_name_title_and_date_of_experience_are_stored_and_listed(client, acme):
    response = write(client, **REVIEW, display_name=" Sam ", title="Comfy and quick", experienced_on="2026-01-15")
    assert response.status_code == 201
    body = response.json()
    assert (body["display_name"], body["title"], body["experienced_on"]) == ("Sam", "Comfy and quick", "2026-01-15")
    listed = client.get(URL, {"brand": "acme-shoes"}).json()["results"][0]
    assert listed["title"] == "Comfy and quick" and listed["experienced_on"] == "2026-01-15"
    # Optional: without them the review is stored with empty ones.
    bare = write(client, **REVIEW).json()
    assert (bare["display_name"], bare["title"], bare["experienced_on"]) == ("", "", None)


def test_a_future_date_of_experience_or_a_long_title_is_a_400_naming_the_field(client, acme):
    response = write(client, **REVIEW, experienced_on="2999-01-01")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "experienced_on": ["The date of your experience cannot be in the future."]
    }
    response = write(client, **REVIEW, title="x" * 101)
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["title"]
    assert UserReview.objects.count() == 0


def test_the_schema_documents_the_new_fields(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    assert set(components["Review"]["properties"]) == PUBLIC_FIELDS
    assert "picked" in components["Review"]["properties"]["rating_source"]["description"]
    assert {"title", "display_name", "experienced_on"} <= set(components["ReviewCreate"]["properties"])
    assert set(components["ReviewCreate"]["required"]) == {"brand", "text", "rating"}
    assert "rating_source: picked" in schema["paths"]["/api/reviews/"]["post"]["description"]


@pytest.mark.parametrize("field", ["text", "title", "display_name"])
def test_text_fields_take_only_json_strings(visitor, brands, field):
    body = {"brand": brands[0].slug, "text": "A perfectly ordinary review of a shop.", "rating": 4, field: 12345678901}
    response = visitor.post("/api/reviews/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"][field] == ["Give text (a JSON string), not a number."]
