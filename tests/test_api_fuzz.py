"""Schemathesis against the live OpenAPI schema: generated requests never get a 5xx, answers match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from brands.services import category_upsert, company_upsert
from config.wsgi import application
from reviews.services import company_refresh_aggregates, user_review_create

# Bounded: valid requests only (the validation tests cover invalid ones), a few examples per operation.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "positive", "max-examples": 8, "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def catalogue(db, redis_url, settings_override, staff_user) -> dict[str, str]:
    """A couple of brands, a review and a staff token; staff calls start real jobs on the test Redis."""
    shoes = category_upsert(name="Shoes")
    acme = company_upsert(name="Acme Shoes", domain="acme.example")
    acme.categories.add(shoes)
    company_upsert(name="Boots & Co", domain="boots.example")
    user_review_create(company=acme, text="Comfortable and cheap, recommended.", rating=5)
    company_refresh_aggregates([acme.pk])
    return {"Authorization": f"Token {Token.objects.create(user=staff_user).key}"}


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: a request through WSGI must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def settings_override(settings, keep_test_connection):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"predict": "10000/min", "review_create": "10000/min"},
    }
    cache.clear()
    yield
    cache.clear()


# The schema the site serves at /api/schema/, loaded through the WSGI application (no database needed).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_generated_requests_get_documented_answers(case, catalogue):
    headers = catalogue if case.path.startswith("/api/staff/") else None
    response = case.call(app=application, headers=headers)
    case.validate_response(response, checks=CHECKS)


HOSTILE_BODIES = {
    "nested arrays": "[" * 50000,
    "nested objects": '{"a":' * 30000,
    "NaN": '{"text": NaN}',
    "Infinity": '{"text": "x", "rating": Infinity}',
    "beyond a float": '{"text": "x", "rating": 1e999}',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_every_json_endpoint_answers_json_that_is_not_strict_with_a_400(catalogue, client, body):
    operations = schema.raw_schema["paths"]
    posts = [path for path, methods in operations.items() if "post" in methods and "{" not in path]
    assert "/api/predict/" in posts and "/api/reviews/" in posts
    for path in posts:
        response = client.post(path, body, content_type="application/json", headers=catalogue)
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["error"]["code"] == "parse_error", path
