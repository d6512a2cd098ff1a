"""Health endpoints: /healthz says the process is up, /readyz says what is failing."""

from __future__ import annotations

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_redis_and_model_answer(client, redis_url):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "model": "ok"}
    assert body["model"]


def test_readyz_names_redis_when_it_is_down(client, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "default": {**settings.RQ_QUEUES["default"], "URL": dead}}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert dead in body["checks"]["redis"]
    assert body["checks"]["database"] == "ok"
