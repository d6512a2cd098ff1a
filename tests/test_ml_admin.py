"""Staff screens: start a training run, watch it, see a model's pictures, activate and compare versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from ml.models import ModelVersion, TrainingRun
from tests.factories import model_version_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("served_model_reset")]


def test_staff_start_a_training_run_and_see_it_queued(admin_client, redis_url):
    url = reverse("admin:ml_trainingrun_add")
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Start training" in page.content
    response = admin_client.post(
        url,
        {
            "architecture": "fasttext",
            "epochs": 2,
            "batch_size": 0,
            "learning_rate": 0,
            "seed": 1,
            "patience": 3,
            "language": "en",
            "activate": "on",
        },
    )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{run.pk}/change/")
    assert run.status == "queued" and run.params["epochs"] == 2 and run.params["activate"] is True
    detail = admin_client.get(response["Location"]).content.decode()
    assert "Waiting for a training worker." in detail and 'http-equiv="refresh"' in detail


def test_a_bad_option_is_shown_on_the_form(admin_client):
    response = admin_client.post(reverse("admin:ml_trainingrun_add"), {"architecture": "fasttext", "epochs": -3})
    assert response.status_code == 200 and not TrainingRun.objects.exists()
    assert "Ensure this value is greater than or equal to 0" in response.content.decode()


def test_a_failed_run_shows_its_error_and_can_be_retried(admin_client, redis_url):
    run = TrainingRun.objects.create(status="failed", error="NotEnoughData: <b>average</b> has 2", params={"epochs": 1})
    detail = admin_client.get(reverse("admin:ml_trainingrun_change", args=[run.pk])).content.decode()
    assert "NotEnoughData: &lt;b&gt;average&lt;/b&gt; has 2" in detail and "http-equiv" not in detail
    admin_client.post(reverse("admin:ml_trainingrun_changelist"), {"action": "retry", "_selected_action": [run.pk]})
    assert TrainingRun.objects.filter(status="queued").count() == 1


def test_versions_show_pictures_activate_and_compare(admin_client, trained_checkpoint):
    first = model_version_create(name="tiny-1", checkpoint=trained_checkpoint)
    second = model_version_create(name="tiny-<2>", checkpoint=trained_checkpoint)
    ModelVersion.objects.filter(pk=first.pk).update(
        metrics={
            "accuracy": 0.8,
            "macro_f1": 0.79,
            "test": {
                "n": 3,
                "accuracy": 0.8,
                "macro_f1": 0.79,
                "per_class": {"bad": {"precision": 1, "recall": 1, "f1": 1, "support": 1}},
                "labels": ["bad", "average", "good"],
                "confusion": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            },
        }
    )
    TrainingRun.objects.create(
        status="succeeded",
        model_version=first,
        history=[
            {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_macro_f1": 0.6},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "val_macro_f1": 0.7},
        ],
    )
    page = admin_client.get(reverse("admin:ml_modelversion_change", args=[first.pk])).content.decode()
    assert page.count('role="img"') == 2 and "polyline" in page and "macro-F1 0.79" in page

    changelist = reverse("admin:ml_modelversion_changelist")
    admin_client.post(changelist, {"action": "activate", "_selected_action": [second.pk]})
    assert ModelVersion.objects.get(is_active=True) == second
    Path(settings.MEDIA_ROOT, first.file).write_bytes(b"garbage")
    response = admin_client.post(changelist, {"action": "activate", "_selected_action": [first.pk]}, follow=True)
    assert "unreadable or corrupt" in response.content.decode()
    assert ModelVersion.objects.get(is_active=True) == second

    response = admin_client.post(changelist, {"action": "compare", "_selected_action": [first.pk, second.pk]})
    compare = admin_client.get(response["Location"]).content.decode()
    assert "tiny-1" in compare and "tiny-&lt;2&gt;" in compare and "tiny-<2>" not in compare
    assert compare.count('role="img"') == 4
