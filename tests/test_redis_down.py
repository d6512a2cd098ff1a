"""With Redis stopped, visitors can still browse, get scores and submit; starting jobs says why it can't."""

from __future__ import annotations

import re

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient

from reviews.models import UserReview
from tests.conftest import free_port
from tests.factories import company_create

POSITIVE = "Wonderful service, friendly staff and fast delivery. I love it and recommend them!"


@pytest.fixture
def redis_is_down(settings):
    """Cache, channel layer and job queues all point at a Redis that is not running."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    saved = {name: dict(queue) for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():  # django-rq keeps its own reference to these dicts
        queue["URL"] = dead
    channel_layers.backends.clear()
    yield dead
    for name, queue in settings.RQ_QUEUES.items():
        queue.update(saved[name])
    channel_layers.backends.clear()


@pytest.fixture
def brand(db):
    return company_create(name="Acme Boots")


@pytest.mark.django_db
def test_pages_predictions_and_reviews_work_without_redis(redis_is_down, brand, client, visitor):
    assert client.get("/").status_code == 200
    assert client.get("/brands/").status_code == 200
    assert client.get(f"/brands/{brand.slug}/").status_code == 200

    prediction = visitor.post("/api/predict/", {"text": POSITIVE}, format="json")
    assert prediction.status_code == 200, prediction.content
    assert prediction.json()["label"] == "good"

    created = visitor.post("/api/reviews/", {"brand": brand.slug, "text": POSITIVE, "rating": 5}, format="json")
    assert created.status_code == 201, created.content

    page = client.get("/").content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    submitted = client.post("/", {**fields, "text": POSITIVE, "rating": "4"})
    assert submitted.status_code in (200, 302)
    assert UserReview.objects.count() == 2


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_keeps_scoring_without_redis(redis_is_down):
    from config.asgi import application

    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    communicator = WebsocketCommunicator(application, "/ws/sentiment/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    try:
        await communicator.send_json_to({"text": POSITIVE, "id": 1})
        answer = await communicator.receive_json_from(timeout=30)
    finally:
        await communicator.disconnect()
    assert answer["id"] == 1
    assert answer["label"] == "good"


@pytest.mark.django_db
def test_starting_a_crawl_without_redis_answers_503_with_the_reason(redis_is_down, staff):
    response = staff.post("/api/staff/crawl-runs/", {"start_url": "http://127.0.0.1:9/"}, format="json")
    assert response.status_code == 503, response.content
    assert "unavailable" in response.content.decode().lower()


# Throttles count in each process while Redis is down: they never open. Each test is its own client
# (address), since the in-process counts outlive a test.


@pytest.mark.django_db
def test_the_review_budget_holds_without_redis(redis_is_down, brand, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"review_create": "30/min"}}
    api = APIClient(REMOTE_ADDR="203.0.113.41")

    statuses = [
        api.post("/api/reviews/", {"brand": brand.slug, "text": POSITIVE, "rating": 5}, format="json").status_code
        for _ in range(41)
    ]

    assert statuses == [201] * 30 + [429] * 11
    assert UserReview.objects.count() == 30


@pytest.mark.django_db
def test_the_api_throttle_holds_without_redis(redis_is_down, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "3/min"}}
    api = APIClient(REMOTE_ADDR="203.0.113.42")

    statuses = [api.post("/api/predict/", {"text": POSITIVE}, format="json").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_sign_in_stays_limited_without_redis(redis_is_down, staff_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    client = Client(REMOTE_ADDR="203.0.113.43")

    statuses = [
        client.post("/admin/login/", {"username": staff_user.username, "password": "wrong"}).status_code
        for _ in range(12)
    ]

    assert statuses == [200] * 5 + [429] * 7
