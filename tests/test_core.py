"""The base layer: one client address behind proxies, one error body from every emitter, one job lifecycle,
the readiness registry and the worker that listens on every registered queue."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory

from brands.services import company_upsert
from core.asgi_limits import BodySizeLimit
from core.errors import StarlingError
from core.health import readiness, readiness_check_register, readiness_check_unregister
from core.jobs import JobRun, JobRunUnfinished, failure_reason, job_run_retry, run_work
from core.privacy import client_ip, hash_ip
from core.values import parse_yes_no
from crawling.models import CrawlRun
from ml.models import TrainingRun
from reviews.models import UserReview

POSITIVE = "Wonderful service, friendly staff and fast delivery. I love it and recommend them!"


# --- The client's address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.9", "10.0.0.2"),  # no trusted proxy: X-Forwarded-For is the client's own claim
        (1, "198.51.100.9", "198.51.100.9"),
        (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # the forged left part is ignored
        (2, "6.6.6.6, 198.51.100.9, 10.0.0.3", "198.51.100.9"),
        (1, None, "10.0.0.2"),
    ],
)
def test_client_ip_honours_only_the_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **headers)
    assert client_ip(request) == expected


@pytest.mark.django_db
def test_a_form_review_behind_the_proxy_hashes_the_visitor_not_the_proxy(client: Client, settings):
    settings.TRUSTED_PROXIES = 1
    company_upsert(name="Acme Boots", domain="acme-boots.example")
    page = client.get("/").content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    response = client.post(
        "/",
        {**fields, "text": POSITIVE, "rating": "4"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert response.status_code == 302
    assert UserReview.objects.get().ip_hash == hash_ip("198.51.100.9")


# --- One error body ---------------------------------------------------------------------------


def test_a_service_error_answers_its_status_code_message_and_field():
    from core.api_errors import api_exception_handler

    class Refused(StarlingError):
        code = "refused"

    response = api_exception_handler(Refused("Give a shorter name.", field="name"), {})
    assert response.status_code == 400
    assert response.data == {
        "error": {
            "status": 400,
            "code": "refused",
            "message": "Give a shorter name.",
            "fields": {"name": ["Give a shorter name."]},
        }
    }


async def test_the_asgi_body_limit_answers_the_full_error_body():
    sent: list[dict] = []

    async def app(scope, receive, send):  # never reached
        raise AssertionError

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/api/predict/", "headers": [(b"content-length", b"999999")]}
    await BodySizeLimit(app, 1000)(scope, receive, send)
    body = json.loads(sent[1]["body"])
    assert sent[0]["status"] == 413
    assert body["error"]["code"] == "payload_too_large"
    assert body["error"]["fields"] == {}


@pytest.mark.django_db
def test_the_nul_guard_answers_the_full_error_body(client: Client):
    body = client.get("/api/brands/?search=a%00b").json()
    assert body["error"]["status"] == 400
    assert body["error"]["code"] == "invalid"
    assert body["error"]["fields"] == {}


# --- One job lifecycle ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model", [CrawlRun, TrainingRun])
def test_no_run_type_can_be_retried_while_unfinished(model):
    run = model.objects.create(status=JobRun.Status.RUNNING)
    with pytest.raises(JobRunUnfinished, match=f"#{run.pk} is still running"):
        job_run_retry(run, lambda: pytest.fail("a new run was started"))
    model.objects.filter(pk=run.pk).update(status=JobRun.Status.FAILED)
    assert job_run_retry(run, lambda: "started") == "started"


@pytest.mark.django_db
def test_a_failed_run_shows_one_line_and_no_traceback():
    run = CrawlRun.start_here()

    def work(run):
        raise RuntimeError("The review site answered 500\n  on every page.")

    assert run_work(run, work) == JobRun.Status.FAILED
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert run.error == "RuntimeError: The review site answered 500 on every page."
    assert "Traceback" not in run.error and run.finished_at


@pytest.mark.django_db
def test_a_claimed_run_is_claimed_once():
    run = TrainingRun.objects.create()
    assert TrainingRun.claim(run.pk).status == JobRun.Status.RUNNING
    assert TrainingRun.claim(run.pk) is None


def test_our_own_errors_are_shown_as_their_message():
    assert failure_reason(StarlingError("Import some reviews first.")) == "Import some reviews first."
    assert failure_reason(ValueError("bad")) == "ValueError: bad"


# --- Readiness registry, yes/no words, the worker ---------------------------------------------


@pytest.mark.django_db
def test_apps_add_readiness_checks_and_a_failing_one_makes_the_site_unready(redis_url):
    readiness_check_register("search-index", lambda: ("search index missing", {}), needs=("database",))
    try:
        ok, body = readiness()
    finally:
        readiness_check_unregister("search-index")
    assert not ok
    assert body["checks"]["search-index"] == "search index missing"
    assert body["checks"]["database"] == "ok"
    assert list(body["checks"])[:3] == ["database", "redis", "model"]  # the model check came from ml


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", True),
        (" ON ", True),
        ("1", True),
        (True, True),
        ("off", False),
        ("", False),
        (0, False),
        ("maybe", None),
    ],
)
def test_yes_no_words(value, expected):
    assert parse_yes_no(value) is expected


def test_the_worker_refuses_a_queue_that_is_not_registered(capsys):
    with pytest.raises(SystemExit) as stopped:
        call_command("jobworker", "emails")
    assert stopped.value.code == 2
    assert "Unknown queue emails: the queues are default, crawl, training." in capsys.readouterr().err


def test_a_mistyped_throttle_rate_stops_the_start_with_the_variable_to_fix(settings):
    from django.core.exceptions import ImproperlyConfigured

    from core.apps import _throttle_rates_check

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": "banana"}}
    with pytest.raises(ImproperlyConfigured, match="THROTTLE_PREDICT"):
        _throttle_rates_check()
