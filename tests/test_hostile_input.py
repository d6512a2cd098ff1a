"""Untrusted text from visitors and crawled pages is shown escaped, and hostile requests get clear errors."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from rest_framework.test import APIClient

from config.asgi import application
from reviews.models import ScrapedReview
from tests.factories import category_create, company_create, scraped_review_create, user_review_create_row

SCRIPT = '<script>alert("owned")</script>'
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile_rows(db):
    category = category_create(name=f"Shops {IMG}", slug="shops-hostile")
    company = company_create(name=f"Evil {SCRIPT} & Co", domain="evil.example")
    company.categories.add(category)
    scraped_review_create(company=company, stars=1, title=f"Title {SCRIPT}", text=f"Text {IMG} body", language="en")
    user_review_create_row(company=company, text=f"Visitor {SCRIPT} text", rating=2)
    return company


def assert_escaped(html: str) -> None:
    assert SCRIPT not in html
    assert IMG not in html
    assert "alert(" not in html or "&lt;" in html


@pytest.mark.django_db
def test_public_pages_escape_crawled_and_visitor_text(client, hostile_rows):
    for path in ("/", f"/?brand={hostile_rows.slug}", "/brands/", f"/brands/{hostile_rows.slug}/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.content.decode())
    detail = client.get(f"/brands/{hostile_rows.slug}/").content.decode()
    assert "&lt;script&gt;" in detail


@pytest.mark.django_db
def test_admin_pages_escape_crawled_and_visitor_text(admin_client, hostile_rows):
    review = ScrapedReview.objects.get()
    for path in (
        "/admin/brands/company/",
        f"/admin/brands/company/{hostile_rows.pk}/change/",
        "/admin/brands/category/",
        "/admin/reviews/scrapedreview/",
        f"/admin/reviews/scrapedreview/{review.pk}/change/",
        "/admin/reviews/userreview/",
    ):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.content.decode())


@pytest.mark.django_db
def test_generated_logo_escapes_the_name(client, hostile_rows):
    svg = client.get(f"/brands/{hostile_rows.slug}/logo.svg").content.decode()
    assert "<script" not in svg


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["' OR 1=1 --", '"; DROP TABLE brands_company; --', "%", "_", "\\"])
def test_sql_like_search_terms_are_just_text(client, hostile_rows, query):
    assert client.get("/brands/", {"q": query}).status_code == 200
    api = APIClient().get("/api/brands/", {"search": query, "category": query})
    assert api.status_code in (200, 400)
    assert client.get("/api/reviews/", {"brand": query, "rating": query}).status_code in (200, 400)


@pytest.mark.django_db
def test_a_nul_character_in_the_address_is_a_clear_400(client, hostile_rows):
    page = client.get("/brands/", {"q": "a\x00b"})
    assert page.status_code == 400
    assert "NUL character" in page.content.decode()
    api = client.get("/api/brands/", {"search": "\x00"})
    assert api.status_code == 400
    assert "NUL character" in api.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    ["😀😀😀", "שלום, זה נהדר", "مرحبا جدا رائع", "a\u202eb\u200fc", "\u0001\u0007 bell", "x" * 5000],
)
def test_unicode_edge_cases_get_a_prediction(text):
    body = json.dumps({"text": text})  # ASCII-escaped, so a lone surrogate travels as \\ud800
    response = APIClient().post("/api/predict/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert set(response.json()) >= {"score", "label", "suggested_rating", "model"}


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["bad\x00byte", "lone \ud800 surrogate"])
def test_null_characters_and_lone_surrogates_get_a_clear_error(text):
    response = APIClient().post("/api/predict/", json.dumps({"text": text}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["text"]


@pytest.mark.django_db
def test_malformed_json_gets_a_clear_400():
    response = APIClient().post("/api/predict/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/predict/", "[" * 50000),
        ("/api/reviews/", '{"a":' * 30000),
        ("/api/predict/", '{"text": ' + "[" * 65 + '"x"' + "]" * 65 + "}"),
    ],
    ids=["predict-arrays", "reviews-objects", "just-over-the-depth-limit"],
)
def test_deeply_nested_json_is_a_clear_400(visitor, path, body):
    response = visitor.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "parse_error" and "nested more than 64 levels" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_numbers_are_a_clear_400(visitor, value):
    response = visitor.post("/api/predict/", f'{{"text": "fine", "extra": {value}}}', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in json.loads(response.content, parse_constant=pytest.fail)["error"]["message"]


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


async def test_a_declared_oversized_body_is_refused_before_it_is_read(settings):
    communicator = ApplicationCommunicator(application, http_scope("/api/predict/", [(b"content-length", b"50000000")]))
    await communicator.send_input({"type": "http.request", "body": b'{"text": "', "more_body": True})
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 413
    body = await communicator.receive_output(timeout=10)
    assert b"larger than" in body["body"]


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_oversized_body_is_cut_off(settings):
    communicator = ApplicationCommunicator(application, http_scope("/api/predict/", []))
    chunk = b"x" * 65536
    for _ in range(settings.DATA_UPLOAD_MAX_MEMORY_SIZE // len(chunk) + 2):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
    start = await communicator.receive_output(timeout=20)
    assert start["status"] == 413
