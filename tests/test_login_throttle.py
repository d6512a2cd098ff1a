"""Staff sign-in is rate-limited per client address and user name (read as the form reads it), storing no IP."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import PASSWORD, staff_user_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]  # no failure counts from before

FULLWIDTH_OPSADMIN = "ｏｐｓａｄｍｉｎ"


def attempt(client, password: str, username: str = "staff", **headers):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **headers)


def test_sign_in_is_refused_after_five_failures_even_with_the_right_password(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    staff_user_create("staff")
    for _ in range(5):
        assert attempt(client, "wrong").status_code == 200  # the form again, with an error
    refused = attempt(client, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0


def test_a_successful_sign_in_resets_the_count(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    staff_user_create("staff")
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    attempt(client, "wrong")
    attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302


def test_a_fullwidth_name_counts_against_the_name_it_signs_in_as(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    staff_user_create("opsadmin")
    for _ in range(5):
        assert attempt(client, "wrong", FULLWIDTH_OPSADMIN).status_code == 200

    assert attempt(client, "wrong", FULLWIDTH_OPSADMIN).status_code == 429  # no unlimited tries
    assert attempt(client, "wrong", "opsadmin").status_code == 429
    assert attempt(client, PASSWORD, " opsadmin ").status_code == 429


def test_a_locked_name_cannot_sign_in_through_its_fullwidth_form(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    staff_user_create("opsadmin")
    assert attempt(Client(), PASSWORD, FULLWIDTH_OPSADMIN).status_code == 302  # Django's form accepts it
    for _ in range(5):
        attempt(client, "wrong", "opsadmin")

    refused = attempt(client, PASSWORD, FULLWIDTH_OPSADMIN)

    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_behind_the_proxy_one_client_failing_does_not_lock_the_name_for_others(settings):
    settings.TRUSTED_PROXIES = 1
    settings.LOGIN_FAILURE_LIMIT = 5
    staff_user_create("opsadmin")
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")
    colleague = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    for _ in range(5):
        assert attempt(attacker, "wrong", "opsadmin").status_code == 200

    assert attempt(attacker, PASSWORD, "opsadmin").status_code == 429
    assert attempt(colleague, PASSWORD, "opsadmin").status_code == 302


def test_a_forged_forwarded_for_does_not_dodge_the_lock_without_a_trusted_proxy(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    staff_user_create("opsadmin")
    for n in range(3):
        attempt(Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"), "wrong", "opsadmin")

    forged = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert attempt(forged, PASSWORD, "opsadmin").status_code == 429


def _cache_keys(pattern: str) -> list[str]:
    if hasattr(cache, "_cache") and isinstance(cache._cache, dict):  # the in-process cache (no REDIS_URL)
        return [key for key in cache._cache if pattern in key]
    import redis
    from django.conf import settings

    return [k.decode() for k in redis.Redis.from_url(settings.REDIS_URL).keys(f"*{pattern}*")]


def test_the_count_is_kept_under_a_hash_not_the_ip(client):
    attempt(client, "wrong")

    keys = _cache_keys("throttle_sign_in")
    assert keys
    assert not any("127.0.0.1" in key or "staff" in key for key in keys)


def test_api_throttle_counts_under_a_hash_not_the_ip():
    from rest_framework.test import APIClient

    APIClient(REMOTE_ADDR="203.0.113.77").post("/api/predict/", {"text": "fine"}, format="json")

    keys = _cache_keys("throttle_predict")
    assert keys
    assert not any("203.0.113.77" in key for key in keys)
