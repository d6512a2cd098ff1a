"""The OpenAPI schema at /api/schema/ and the interactive docs at /api/docs/, served with no outside network."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

OUTSIDE_URL = re.compile(r"""(?:https?:)?//(?!localhost|127\.0\.0\.1|testserver)[\w.-]+\.[a-z]{2,}""", re.I)


@pytest.fixture(scope="module")
def schema() -> dict:
    return Client().get("/api/schema/", {"format": "json"}).json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_schema_is_valid_openapi_3(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3.0 JSON Schema

    assert schema["openapi"].startswith("3.")


def test_every_public_path_is_documented(schema):
    documented = {(path, method) for path, method, _ in operations(schema)}

    assert {
        ("/api/predict/", "post"),
        ("/api/brands/", "get"),
        ("/api/brands/random/", "get"),
        ("/api/brands/{slug}/", "get"),
        ("/api/reviews/", "get"),
        ("/api/reviews/", "post"),
    } <= documented


def test_every_operation_has_request_and_response_schemas(schema):
    for path, method, operation in operations(schema):
        if method in ("post", "put", "patch") and "activate" not in path:
            assert "schema" in operation["requestBody"]["content"]["application/json"], (path, method)
        for status, response in operation["responses"].items():
            assert "schema" in response["content"]["application/json"], (path, method, status)
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_error_format_is_a_documented_component(schema):
    error = schema["components"]["schemas"]["ErrorDetail"]

    assert set(error["properties"]) == {"status", "code", "message", "fields"}


def test_predict_and_reviews_carry_examples(schema):
    predict = schema["paths"]["/api/predict/"]["post"]
    review = schema["paths"]["/api/reviews/"]["post"]

    assert predict["requestBody"]["content"]["application/json"]["examples"]
    assert predict["responses"]["200"]["content"]["application/json"]["examples"]
    assert review["requestBody"]["content"]["application/json"]["examples"]
    assert review["responses"]["201"]["content"]["application/json"]["examples"]
    assert "Retry-After" in predict["responses"]["429"]["headers"]


def test_limits_are_in_the_schema(schema, settings):
    components = schema["components"]["schemas"]

    assert components["PredictInput"]["properties"]["text"]["maxLength"] == settings.PREDICTION_MAX_CHARS
    assert components["ReviewCreate"]["properties"]["text"]["maxLength"] == settings.REVIEW_MAX_CHARS
    assert components["ReviewCreate"]["properties"]["rating"] == {
        "type": "integer",
        "maximum": 5,
        "minimum": 1,
        "description": "The stars the visitor chose, 1 to 5.",
    }


def test_the_docs_page_loads_with_every_asset_served_here():
    client = Client()

    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert not OUTSIDE_URL.findall(html)
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        if asset.startswith("/api/docs/"):  # the page's own start-up script
            script = response.content.decode()
            assert "/api/schema/" in script
            assert not OUTSIDE_URL.findall(script)


def test_the_docs_page_needs_no_inline_script():
    html = Client().get("/api/docs/").content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
