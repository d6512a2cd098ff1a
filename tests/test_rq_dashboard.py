"""The job queue's dashboard while Redis is down: a 503 page that says so, never a 500 or a password."""

from __future__ import annotations

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/django-rq/",
    "/admin/django-rq/queues/0/",
    "/admin/django-rq/queues/0/failed/",
    "/admin/django-rq/workers/0/",
    "/admin/django_rq/dashboard/",  # the same dashboard, linked from the admin's index
]


@pytest.fixture
def job_queue_with_a_password_down(settings) -> str:
    """The job queue's URL carries a password, and nothing listens there; returns the address staff should see."""
    port = free_port()
    before = {name: queue["URL"] for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():  # django-rq keeps its own reference to these dicts
        queue["URL"] = f"redis://starling:s3cret-pa55@127.0.0.1:{port}/0"
    yield f"redis://127.0.0.1:{port}"
    for name, queue in settings.RQ_QUEUES.items():
        queue["URL"] = before[name]


@pytest.mark.parametrize("page", PAGES)
def test_staff_are_told_the_job_queue_is_not_reachable(staff, job_queue_with_a_password_down, page):
    staff.raise_request_exception = False
    response = staff.get(page)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    text = response.content.decode()
    assert f"The job queue (Redis) is not reachable at {job_queue_with_a_password_down}; " in text
    assert "jobs will resume when it is back" in text
    assert "s3cret-pa55" not in text


@pytest.mark.parametrize("page", PAGES[:2])
def test_the_dashboard_still_asks_others_to_sign_in(outsider, visitor, job_queue_with_a_password_down, page):
    for client in (outsider, visitor):
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_dashboard_works_while_redis_answers(staff, redis_url):
    response = staff.get("/admin/django-rq/")
    assert response.status_code == 200
    assert b"training" in response.content
