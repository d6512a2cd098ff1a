"""A crawl's options have one table of bounds: the service, the staff API, the admin form and the command agree."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from crawling.forms import CrawlStartForm
from crawling.models import CrawlRun
from crawling.services import crawl_params_clean

pytestmark = pytest.mark.django_db


def test_the_service_refuses_a_concurrency_over_64():
    with pytest.raises(ValidationError) as refused:
        crawl_params_clean({"concurrency": 65})
    assert refused.value.message_dict == {"concurrency": ["concurrency must be at most 64 (got 65)."]}
    assert crawl_params_clean({"concurrency": "64"})["concurrency"] == 64


def test_the_staff_api_refuses_it_on_the_field(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/staff/crawl-runs/", {"concurrency": 65}, format="json")
    assert response.status_code == 400
    assert "concurrency" in response.json()["error"]["fields"]
    assert not CrawlRun.objects.exists()


def test_the_admin_form_refuses_it():
    form = CrawlStartForm(data={"start_url": "https://reviews.example", "concurrency": "65"})
    assert not form.is_valid()
    assert "concurrency" in form.errors


def test_the_command_refuses_it_before_crawling():
    with pytest.raises((CommandError, SystemExit)):
        call_command("crawl", "--start-url", "http://127.0.0.1:9/", "--concurrency", "65")
    assert not CrawlRun.objects.exists()


def test_runs_recorded_with_reviews_only_are_crawled_without_the_browser():
    assert crawl_params_clean({"reviews_only": True})["no_browser"] is True
    assert crawl_params_clean({"no_browser": "false"})["no_browser"] is False
    with pytest.raises(ValidationError, match="no_browser must be yes or no"):
        crawl_params_clean({"no_browser": "perhaps"})
