"""Health endpoints: /healthz says the process is up, /readyz says what is failing (and why, to staff only)."""

from __future__ import annotations

import pytest

from core.health import service_address, without_credentials
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-Redis-pa55"


@pytest.fixture
def redis_with_a_password_is_down(settings) -> str:
    """The job queue's Redis URL carries a user and password, and nothing listens there."""
    port = free_port()
    before = {name: queue["URL"] for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():  # django-rq keeps its own reference to these dicts
        queue["URL"] = f"redis://starling:{PASSWORD}@127.0.0.1:{port}/0"
    yield f"redis://127.0.0.1:{port}"
    for name, queue in settings.RQ_QUEUES.items():
        queue["URL"] = before[name]


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


def test_readyz_tells_the_public_only_which_check_fails(visitor, redis_with_a_password_is_down):
    response = visitor.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "redis": "fail", "model": "ok"}
    assert PASSWORD not in response.content.decode() and "127.0.0.1" not in response.content.decode()


def test_readyz_tells_staff_why_without_the_password(staff, redis_with_a_password_is_down):
    response = staff.get("/readyz")
    assert response.status_code == 503
    reason = response.json()["checks"]["redis"]
    assert reason.startswith(f"redis unavailable at {redis_with_a_password_is_down}: ConnectionError")
    assert PASSWORD not in response.content.decode() and "starling:" not in response.content.decode()


def test_outsiders_get_the_public_answer(outsider, redis_with_a_password_is_down):
    assert outsider.get("/readyz").json()["checks"]["redis"] == "fail"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (f"redis://:{PASSWORD}@redis.example.com:6380/2", "redis://redis.example.com:6380"),
        (f"rediss://default:{PASSWORD}@[::1]:6379/0?ssl_cert_reqs=none", "rediss://[::1]:6379"),
        ("redis://localhost", "redis://localhost"),
        (f"unix:///run/redis.sock?password={PASSWORD}", "unix:///run/redis.sock"),
    ],
)
def test_a_service_address_has_no_credentials(url, address):
    assert service_address(url) == address


def test_reasons_lose_the_credentials_of_any_url_in_them():
    reason = f"cannot reach postgres://starling:{PASSWORD}@db:5432/starling or redis://h/0?password={PASSWORD}"
    assert without_credentials(reason) == "cannot reach postgres://db:5432/starling or redis://h/0?password=***"
