"""Budgets that hold: counted atomically, one review budget per client for the form and the API alike."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.rate_limits import rate_limit_take, rate_parse
from reviews.models import UserReview
from tests.conftest import ROOT, free_port
from tests.factories import company_create

TEXT = "Comfortable shoes, quick delivery, fair price."


def review_rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"review_create": rate}}


def form_submit(client: Client, slug: str):
    """Open the review form for a brand and send it, as a visitor's browser would."""
    page = client.get(f"/?brand={slug}").content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    return client.post("/", {**fields, "text": TEXT, "rating": "4"})


def api_submit(client: APIClient, slug: str):
    return client.post("/api/reviews/", {"brand": slug, "text": TEXT, "rating": 4}, format="json")


@pytest.mark.parametrize(("rate", "expected"), [("30/min", (30, 60)), ("10/s", (10, 1)), ("5/15min", (5, 900))])
def test_rates_read_as_drf_writes_them(rate, expected):
    assert rate_parse(rate) == expected


def test_a_rate_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="hits/period"):
        rate_parse("thirty a minute")


@pytest.mark.usefixtures("empty_cache")
def test_concurrent_hits_never_take_more_than_the_budget_in_process():
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: rate_limit_take("test", "one-client", "20/min"), range(100)))

    assert answers.count(None) == 20
    assert all(0 < wait <= 60 for wait in answers if wait is not None)


def test_concurrent_hits_never_take_more_than_the_budget_in_redis(redis_url, settings):
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}}

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: rate_limit_take("test", "one-client", "20/min"), range(100)))

    assert answers.count(None) == 20
    assert rate_limit_take("test", "another-client", "20/min") is None


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_cache")
def test_the_form_and_the_api_share_one_review_budget(settings):
    review_rate(settings, "3/hour")
    acme = company_create(name="Acme Shoes")
    browser, api = Client(REMOTE_ADDR="198.51.100.20"), APIClient(REMOTE_ADDR="198.51.100.20")

    through_api = [api_submit(api, acme.slug).status_code for _ in range(2)]
    through_form = form_submit(browser, acme.slug)
    refused_form = form_submit(browser, acme.slug)
    refused_api = api_submit(api, acme.slug)
    someone_else = api_submit(APIClient(REMOTE_ADDR="198.51.100.21"), acme.slug)

    assert through_api == [201, 201]
    assert through_form.status_code == 302
    assert refused_form.status_code == 429
    assert "Too many reviews" in refused_form.content.decode()
    assert int(refused_form["Retry-After"]) > 60
    assert refused_api.status_code == 429
    assert refused_api.json()["error"]["code"] == "throttled"
    assert int(refused_api["Retry-After"]) > 60
    assert someone_else.status_code == 201
    assert UserReview.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_cache")
def test_an_invalid_review_does_not_use_the_budget(settings):
    review_rate(settings, "1/hour")
    acme = company_create(name="Acme Shoes")
    api = APIClient(REMOTE_ADDR="198.51.100.30")

    too_short = api.post("/api/reviews/", {"brand": acme.slug, "text": "meh", "rating": 4}, format="json")

    assert too_short.status_code == 400
    assert api_submit(api, acme.slug).status_code == 201


def _post_review(port: int, slug: str) -> int:
    body = json.dumps({"brand": slug, "text": TEXT, "rating": 4}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/reviews/", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_until_serving(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "Daphne exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, "Daphne did not answer within 60 s"
            time.sleep(0.2)


@pytest.mark.slow
def test_a_hundred_simultaneous_api_reviews_store_exactly_the_budget(subprocess_env):
    acme = company_create(name="Acme Shoes")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env={**subprocess_env, "THROTTLE_REVIEW_CREATE": "20/min"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(server, port)
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(lambda _: _post_review(port, acme.slug), range(100)))
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert sorted(set(statuses)) == [201, 429], statuses
    assert statuses.count(201) == 20
    assert UserReview.objects.filter(company=acme).count() == 20
