"""POST /api/predict/: the prediction object, its limits, the error format and throttling."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import shipped_model_name

# The predictor looks up the active model version; every test starts with no throttle counts.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]
URL = "/api/predict/"


def test_it_scores_a_text(visitor):
    response = visitor.post(URL, {"text": "Wonderful service, friendly staff, I love it!"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"score", "label", "probabilities", "suggested_rating", "model"}
    assert 0.5 < body["score"] <= 1
    assert body["label"] == "good"
    assert set(body["probabilities"]) == {"bad", "average", "good"}
    assert body["suggested_rating"] in (4, 5)
    assert body["model"] == shipped_model_name()


def test_it_matches_the_predict_function(visitor):
    from ml.inference import predict

    text = "Late delivery and nobody answers the phone."

    response = visitor.post(URL, {"text": text}, format="json")

    assert response.json() == predict(text)


def test_blank_text_gives_nulls(visitor):
    response = visitor.post(URL, {"text": "   "}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "score": None,
        "label": None,
        "probabilities": None,
        "suggested_rating": None,
        "model": shipped_model_name(),
    }


def test_text_over_the_limit_is_a_field_error(visitor, settings):
    settings.PREDICTION_MAX_CHARS = 20

    response = visitor.post(URL, {"text": "x" * 21}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid"
    assert error["fields"] == {"text": ["Ensure this field has no more than 20 characters."]}
    assert error["message"].startswith("text: ")


def test_text_at_the_limit_is_scored(visitor, settings):
    settings.PREDICTION_MAX_CHARS = 20

    response = visitor.post(URL, {"text": "great " * 3 + "ok"}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "text", "This field is required."),
        ({"text": None}, "text", "This field may not be null."),
        ({"text": ["a", "list"]}, "text", "Give text (a JSON string), not a list."),
        ({"text": 123}, "text", "Give text (a JSON string), not a number."),
        ({"text": 4.5}, "text", "Give text (a JSON string), not a number."),
        ({"text": True}, "text", "Give text (a JSON string), not true or false."),
        ({"text": {"a": 1}}, "text", "Give text (a JSON string), not an object."),
        ({"text": "nul \x00 byte"}, "text", "Null characters are not allowed."),
    ],
)
def test_bad_bodies_name_the_field(visitor, body, field, message):
    """Only a JSON string is text: 123 is refused, not scored as "123"."""
    response = visitor.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}


def test_a_body_that_is_not_an_object_is_a_clear_error(visitor):
    response = visitor.post(URL, ["text"], format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    assert error["message"] == "Invalid data. Expected a dictionary, but got list."


def test_malformed_json_is_a_400_in_the_error_format(visitor):
    response = visitor.post(URL, '{"text": ', content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "JSON parse error" in error["message"]
    assert error["fields"] == {}


def test_form_posts_are_refused_with_415(visitor):
    response = visitor.post(URL, {"text": "hello"})  # multipart form

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_get_is_not_allowed(visitor):
    response = visitor.get(URL)

    assert response.status_code == 405
    assert response.json()["error"] == {
        "status": 405,
        "code": "method_not_allowed",
        "message": 'Method "GET" not allowed.',
        "fields": {},
    }


def test_it_is_throttled_per_client_with_retry_after(visitor, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "3/min"}}

    codes = [visitor.post(URL, {"text": "fine"}, format="json").status_code for _ in range(3)]
    limited = visitor.post(URL, {"text": "fine"}, format="json")
    other_client = APIClient(REMOTE_ADDR="10.9.8.7").post(URL, {"text": "fine"}, format="json")

    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    error = limited.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("Too many requests: try again in ")
    assert other_client.status_code == 200


def test_unknown_api_addresses_answer_json_404(visitor):
    response = visitor.get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_missing_trailing_slash_gets_a_hint(visitor):
    response = visitor.post("/api/predict", {"text": "hi"}, format="json")

    assert response.status_code == 404
    assert "Did you mean /api/predict/" in response.json()["error"]["message"]


def test_odd_addresses_under_the_api_still_answer_json(visitor):
    response = visitor.get("/api/brands/line%0Abreak/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_post_to_a_wrong_address_is_a_json_404_even_with_a_session():
    browser = APIClient(enforce_csrf_checks=True)

    response = browser.post("/api/staff/model-versions/-1/activate/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_huge_body_is_a_413_in_the_error_format(visitor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = visitor.post(URL, {"text": "x" * 2000}, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["message"] == "The request body is over 1000 bytes."


def test_there_are_no_cors_headers_by_default(visitor):
    preflight = visitor.options(URL, HTTP_ORIGIN="https://elsewhere.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    response = visitor.post(URL, {"text": "hi"}, format="json", HTTP_ORIGIN="https://elsewhere.example")

    for answer in (preflight, response):
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
