"""POST /api/predict/: the prediction object, its limits, the error format and throttling."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db  # the predictor looks up the active model version
URL = "/api/predict/"


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def test_it_scores_a_text(client):
    response = client.post(URL, {"text": "Wonderful service, friendly staff, I love it!"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"score", "label", "probabilities", "suggested_rating", "model"}
    assert 0.5 < body["score"] <= 1
    assert body["label"] == "good"
    assert set(body["probabilities"]) == {"bad", "average", "good"}
    assert body["suggested_rating"] in (4, 5)
    assert body["model"] == "lexicon-vader"


def test_it_matches_the_predict_function(client):
    from ml.inference import predict

    text = "Late delivery and nobody answers the phone."

    response = client.post(URL, {"text": text}, format="json")

    assert response.json() == predict(text)


def test_blank_text_gives_nulls(client):
    response = client.post(URL, {"text": "   "}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "score": None,
        "label": None,
        "probabilities": None,
        "suggested_rating": None,
        "model": "lexicon-vader",
    }


def test_text_over_the_limit_is_a_field_error(client, settings):
    settings.PREDICTION_MAX_CHARS = 20

    response = client.post(URL, {"text": "x" * 21}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid"
    assert error["fields"] == {"text": ["Ensure this field has no more than 20 characters."]}
    assert error["message"].startswith("text: ")


def test_text_at_the_limit_is_scored(client, settings):
    settings.PREDICTION_MAX_CHARS = 20

    response = client.post(URL, {"text": "great " * 3 + "ok"}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "text", "This field is required."),
        ({"text": None}, "text", "This field may not be null."),
        ({"text": ["a", "list"]}, "text", "Not a valid string."),
        ({"text": "nul \x00 byte"}, "text", "Null characters are not allowed."),
    ],
)
def test_bad_bodies_name_the_field(client, body, field, message):
    response = client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}


def test_a_body_that_is_not_an_object_is_a_clear_error(client):
    response = client.post(URL, ["text"], format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    assert error["message"] == "Invalid data. Expected a dictionary, but got list."


def test_malformed_json_is_a_400_in_the_error_format(client):
    response = client.post(URL, '{"text": ', content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "JSON parse error" in error["message"]
    assert error["fields"] == {}


def test_form_posts_are_refused_with_415(client):
    response = client.post(URL, {"text": "hello"})  # multipart form

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_get_is_not_allowed(client):
    response = client.get(URL)

    assert response.status_code == 405
    assert response.json()["error"] == {
        "status": 405,
        "code": "method_not_allowed",
        "message": 'Method "GET" not allowed.',
        "fields": {},
    }


def test_it_is_throttled_per_client_with_retry_after(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "3/min"}}

    codes = [client.post(URL, {"text": "fine"}, format="json").status_code for _ in range(3)]
    limited = client.post(URL, {"text": "fine"}, format="json")
    other_client = APIClient(REMOTE_ADDR="10.9.8.7").post(URL, {"text": "fine"}, format="json")

    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    error = limited.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("Too many requests: try again in ")
    assert other_client.status_code == 200


def test_unknown_api_addresses_answer_json_404(client):
    response = client.get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_missing_trailing_slash_gets_a_hint(client):
    response = client.post("/api/predict", {"text": "hi"}, format="json")

    assert response.status_code == 404
    assert "Did you mean /api/predict/" in response.json()["error"]["message"]


def test_odd_addresses_under_the_api_still_answer_json(client):
    response = client.get("/api/brands/line%0Abreak/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_post_to_a_wrong_address_is_a_json_404_even_with_a_session():
    client = APIClient(enforce_csrf_checks=True)

    response = client.post("/api/staff/model-versions/-1/activate/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_huge_body_is_a_413_in_the_error_format(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(URL, {"text": "x" * 2000}, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["message"] == "The request body is over 1000 bytes."


def test_there_are_no_cors_headers_by_default(client):
    preflight = client.options(URL, HTTP_ORIGIN="https://elsewhere.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    response = client.post(URL, {"text": "hi"}, format="json", HTTP_ORIGIN="https://elsewhere.example")

    for answer in (preflight, response):
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
