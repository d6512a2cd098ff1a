"""Staff screens: start a training run, watch it, see a model's pictures, activate and compare versions; read-only
pages without Save buttons, one way of showing sizes, the options a run really used."""

from __future__ import annotations

import re
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


def test_a_version_page_has_an_activate_button_and_no_save_buttons(staff, trained_checkpoint):
    version = model_version_create(name="fasttext-2026-11-29-1", checkpoint=trained_checkpoint)
    url = reverse("admin:ml_modelversion_change", args=[version.pk])

    page = staff.get(url).content.decode()

    activate = reverse("admin:ml_modelversion_activate", args=[version.pk])
    assert f'action="{activate}"' in page and "csrfmiddlewaretoken" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert staff.get(activate).status_code == 405  # a GET never activates

    response = staff.post(activate, follow=True)

    page = response.content.decode()
    assert ModelVersion.objects.get(is_active=True) == version
    assert "Activated: fasttext-2026-11-29-1 is now served." in page  # the name as written, not "Fasttext-…"
    assert "Served on the site" in page and f'action="{activate}"' not in page


def test_the_activate_button_needs_the_csrf_token(staff_user, trained_checkpoint):
    from django.test import Client

    version = model_version_create(name="tiny-csrf", checkpoint=trained_checkpoint)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(reverse("admin:ml_modelversion_activate", args=[version.pk]))

    assert response.status_code == 403 and not ModelVersion.objects.filter(is_active=True).exists()


def test_read_only_run_pages_show_no_save_buttons(staff):
    run = TrainingRun.objects.create(status="succeeded", params={"architecture": "fasttext", "epochs": 0})

    page = staff.get(reverse("admin:ml_trainingrun_change", args=[run.pk])).content.decode()

    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_a_run_shows_the_options_training_used_not_the_zeros_that_mean_default(staff):
    params = {"architecture": "fasttext", "epochs": 0, "batch_size": 0, "learning_rate": 0, "seed": 3}
    run = TrainingRun.objects.create(status="succeeded", params=params)

    page = staff.get(reverse("admin:ml_trainingrun_change", args=[run.pk])).content.decode()

    assert '<th scope="row">epochs</th><td>4 (fasttext default)</td>' in page
    assert '<th scope="row">batch_size</th><td>16 (fasttext default)</td>' in page
    assert '<th scope="row">seed</th><td>3</td>' in page
    assert '"epochs": 0' not in page


def test_size_reads_the_same_in_the_list_the_page_and_compare(staff, trained_checkpoint):
    first = model_version_create(name="tiny-a", checkpoint=trained_checkpoint)
    second = model_version_create(name="tiny-b", checkpoint=trained_checkpoint)
    ModelVersion.objects.update(size_bytes=68_163_335)

    pages = [
        staff.get(reverse("admin:ml_modelversion_changelist")),
        staff.get(reverse("admin:ml_modelversion_change", args=[first.pk])),
        staff.get(reverse("admin:ml_modelversion_compare") + f"?ids={first.pk},{second.pk}"),
    ]

    for page in pages:
        text = page.content.decode()
        assert "68.2 MB" in text and "65.0 MB" not in text


def test_the_macro_f1_curve_is_drawn_apart_from_accuracy_and_named_in_the_legend():
    from ml.charts import training_curves_svg

    history = [{"epoch": n, "val_accuracy": 0.7, "val_macro_f1": 0.7, "train_loss": 0.5} for n in (1, 2, 3)]

    svg = training_curves_svg(history)

    accuracy = re.search(r'<polyline [^>]*data-series="val_accuracy"', svg).group(0)
    macro_f1 = re.search(r'<polyline [^>]*data-series="val_macro_f1"', svg).group(0)
    assert "stroke-dasharray" in macro_f1 and "stroke-dasharray" not in accuracy
    assert re.search(r'stroke="(#\w+)"', macro_f1).group(1) != re.search(r'stroke="(#\w+)"', accuracy).group(1)
    assert svg.index('data-series="val_macro_f1"') > svg.index('data-series="val_accuracy"')  # drawn on top
    assert ">validation macro-F1</text>" in svg and ">validation accuracy</text>" in svg
