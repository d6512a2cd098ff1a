"""/api/staff/: crawl runs, training runs and model versions, for staff only."""

from __future__ import annotations

from pathlib import Path

import django_rq
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.jobs import JobRun
from crawling.models import CrawlRun
from ml.models import ModelVersion, TrainingRun
from tests.conftest import signed_in
from tests.factories import model_version_create, user_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]  # throttles, the active model note


LISTS = ["/api/staff/crawl-runs/", "/api/staff/training-runs/", "/api/staff/model-versions/"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A small, untrained but loadable fastText checkpoint, built from the architecture's own spec."""
    from dataclasses import replace

    from ml.architectures import ARCHITECTURE_SPECS
    from ml.checkpoint import SentimentModel, checkpoint_save
    from ml.model import build_network

    spec = ARCHITECTURE_SPECS["fasttext"]
    network = build_network("fasttext", replace(spec.config, buckets=512))
    model = SentimentModel("fasttext", network, replace(spec.encoding, buckets=512))
    return checkpoint_save(tmp_path_factory.mktemp("checkpoint") / "tiny.pt", model)


def tiny_model_version(name: str, checkpoint: Path) -> ModelVersion:
    """The tiny checkpoint registered as an inactive version, with a few metrics to show."""
    return model_version_create(
        name=name,
        checkpoint=checkpoint,
        hyperparameters={"buckets": 512},
        dataset={"train": 60},
        metrics={"macro_f1": 0.42, "accuracy": 0.5},
    )


@pytest.mark.parametrize("url", LISTS)
def test_anonymous_visitors_are_refused(url, visitor):
    response = visitor.get(url)

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."


@pytest.mark.parametrize("url", LISTS)
def test_signed_in_non_staff_users_are_refused(url, outsider):
    response = outsider.get(url)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("url", LISTS)
def test_staff_get_in_with_a_session_or_a_token(url, staff_user):
    session = APIClient()
    session.force_login(staff_user)
    token = APIClient(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")

    assert session.get(url).status_code == 200
    assert token.get(url).status_code == 200
    assert APIClient(HTTP_AUTHORIZATION="Token wrong").get(url).status_code == 403


@pytest.mark.parametrize("url", LISTS)
def test_staff_need_not_be_superusers(url):
    clerk = signed_in(user_create("clerk", is_staff=True))

    assert clerk.get(url).status_code == 200


def test_starting_work_is_refused_to_non_staff(outsider):
    assert outsider.post("/api/staff/crawl-runs/", {}, format="json").status_code == 403
    assert outsider.post("/api/staff/training-runs/", {}, format="json").status_code == 403
    assert not CrawlRun.objects.exists() and not TrainingRun.objects.exists()


@pytest.mark.redis
def test_staff_start_a_crawl_on_the_crawl_queue(staff, redis_url, django_capture_on_commit_callbacks):
    # The job is pushed when the transaction commits (here: the test's, simulated).
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            "/api/staff/crawl-runs/",
            {"start_url": "http://127.0.0.1:9/", "companies": ["www.example.com"], "max_pages": 2},
            format="json",
        )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert body["params"]["start_url"] == "http://127.0.0.1:9"
    assert body["params"]["companies"] == ["www.example.com"]
    assert body["params"]["max_pages"] == 2
    run = CrawlRun.objects.get(pk=body["id"])
    assert run.job_id and run.job_id in django_rq.get_queue("crawl").job_ids
    listed = staff.get("/api/staff/crawl-runs/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == run.pk
    assert staff.get(f"/api/staff/crawl-runs/{run.pk}/").json()["progress"] == 0


@pytest.mark.parametrize(
    ("options", "errors"),
    [
        ({"max_pages": 0}, {"max_pages": ["Ensure this value is greater than or equal to 1."]}),
        ({"start_url": "not a url"}, {"start_url": ["Enter a valid URL."]}),
        ({"categories": "shoes"}, {"categories": ['Expected a list of items but got type "str".']}),
    ],
)
def test_bad_crawl_options_are_field_errors_and_nothing_is_recorded(staff, options, errors):
    response = staff.post("/api/staff/crawl-runs/", options, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == errors
    assert not CrawlRun.objects.exists()


def test_the_crawl_services_own_checks_come_back_as_field_errors(staff):
    response = staff.post("/api/staff/crawl-runs/", {"start_url": "ftp://example.com"}, format="json")

    assert response.status_code == 400
    assert "start_url" in response.json()["error"]["fields"]
    assert not CrawlRun.objects.exists()


def test_starting_a_crawl_with_redis_down_is_a_clear_503(staff, job_queue_down):
    response = staff.post("/api/staff/crawl-runs/", {"max_companies": 1}, format="json")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "job queue (Redis) is unavailable" in error["message"]
    assert CrawlRun.objects.get().status == JobRun.Status.FAILED


@pytest.mark.redis
def test_staff_start_training_on_the_training_queue(staff, staff_user, redis_url, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/api/staff/training-runs/", {"architecture": "fasttext", "epochs": 2}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert body["progress"] == 0
    assert body["params"]["architecture"] == "fasttext"
    assert body["params"]["epochs"] == 2
    assert body["created_by"] == staff_user.username
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.job_id in django_rq.get_queue("training").job_ids


def test_training_runs_are_listed_with_their_progress(staff):
    TrainingRun.objects.create(status="running", progress=0.25, progress_message="Epoch 1 of 4")

    run = staff.get("/api/staff/training-runs/").json()["results"][0]

    assert (run["status"], run["progress"], run["progress_message"]) == ("running", 0.25, "Epoch 1 of 4")
    assert staff.get(f"/api/staff/training-runs/{run['id']}/").json()["progress"] == 0.25


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"architecture": "gpt"}, "architecture", '"gpt" is not a valid choice.'),
        ({"epochs": 900}, "epochs", "Ensure this value is less than or equal to 500."),
    ],
)
def test_bad_training_options_are_refused_before_anything_is_written(staff, options, field, message):
    response = staff.post("/api/staff/training-runs/", options, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}
    assert not TrainingRun.objects.exists()


def test_starting_training_with_redis_down_is_a_clear_503(staff, job_queue_down):
    response = staff.post("/api/staff/training-runs/", {}, format="json")

    assert response.status_code == 503
    assert "Redis" in response.json()["error"]["message"]


def test_model_versions_are_listed_with_metrics_and_one_is_activated(
    staff, visitor, tiny_checkpoint, served_model_reset
):
    version = tiny_model_version("fasttext-test-1", tiny_checkpoint)

    listed = staff.get("/api/staff/model-versions/").json()["results"]
    activated = staff.post(f"/api/staff/model-versions/{version.pk}/activate/")
    served = visitor.post("/api/predict/", {"text": "great"}, format="json").json()

    assert listed[0]["name"] == "fasttext-test-1"
    assert listed[0]["metrics"] == {"macro_f1": 0.42, "accuracy": 0.5}
    assert listed[0]["is_active"] is False
    assert activated.status_code == 200
    assert activated.json()["is_active"] is True
    assert ModelVersion.objects.get(is_active=True) == version
    assert served["model"] == "fasttext-test-1"


def test_a_version_whose_checkpoint_is_gone_is_not_activated(staff, settings, tiny_checkpoint, served_model_reset):
    good = tiny_model_version("fasttext-good", tiny_checkpoint)
    broken = tiny_model_version("fasttext-broken", tiny_checkpoint)
    staff.post(f"/api/staff/model-versions/{good.pk}/activate/")
    (settings.MEDIA_ROOT / broken.file).unlink()

    response = staff.post(f"/api/staff/model-versions/{broken.pk}/activate/")

    assert response.status_code == 400
    assert "The active model was not changed" in response.json()["error"]["message"]
    assert ModelVersion.objects.get(is_active=True) == good


def test_activating_an_unknown_version_is_a_404(staff):
    response = staff.post("/api/staff/model-versions/999999/activate/")

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No model version with id 999999."


def test_huge_ids_are_a_404_not_a_crash(staff):
    assert staff.get(f"/api/staff/crawl-runs/{2**70}/").status_code == 404
    assert staff.post(f"/api/staff/model-versions/{2**70}/activate/").status_code == 404


def test_staff_lists_are_paginated(staff):
    CrawlRun.objects.bulk_create(CrawlRun(params={}) for _ in range(5))

    page = staff.get("/api/staff/crawl-runs/", {"page_size": 2}).json()

    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] and page["previous"] is None
