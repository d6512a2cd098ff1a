"""Staff sign-in is rate-limited per IP and user name, without storing the IP."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]  # no failure counts from before


def attempt(client, password: str):
    return client.post("/admin/login/", {"username": "staff", "password": password, "next": "/admin/"})


def test_sign_in_is_refused_after_five_failures_even_with_the_right_password(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    User.objects.create_superuser("staff", "staff@example.com", "correct-horse-battery")
    for _ in range(5):
        assert attempt(client, "wrong").status_code == 200  # the form again, with an error
    refused = attempt(client, "correct-horse-battery")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0


def test_a_successful_sign_in_resets_the_count(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    User.objects.create_superuser("staff", "staff@example.com", "correct-horse-battery")
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, "correct-horse-battery").status_code == 302
    client.logout()
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, "correct-horse-battery").status_code == 302


def test_the_count_is_kept_under_a_hash_not_the_ip(client):
    attempt(client, "wrong")
    if hasattr(cache, "_cache") and isinstance(cache._cache, dict):  # the in-process cache (no REDIS_URL)
        keys = list(cache._cache.keys())
    else:
        import redis
        from django.conf import settings

        keys = [k.decode() for k in redis.Redis.from_url(settings.REDIS_URL).keys("*login-failures*")]
    assert any("login-failures" in key for key in keys)
    assert not any("127.0.0.1" in key for key in keys)


def test_api_throttle_counts_under_a_hash_not_the_ip():
    from rest_framework.test import APIClient

    APIClient(REMOTE_ADDR="203.0.113.77").post("/api/predict/", {"text": "fine"}, format="json")
    if hasattr(cache, "_cache") and isinstance(cache._cache, dict):
        keys = list(cache._cache.keys())
    else:
        import redis
        from django.conf import settings

        keys = [k.decode() for k in redis.Redis.from_url(settings.REDIS_URL).keys("*throttle*")]
    assert any("throttle_predict" in key for key in keys)
    assert not any("203.0.113.77" in key for key in keys)
