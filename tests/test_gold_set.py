"""The gold set: reviews staff verified from their text, left out of training, scored for every model version.

Also which visitors' reviews may join the dataset (only those whose rating the visitor picked).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from ml.models import ModelVersion
from ml.services import training_run_foreground
from reviews.label_changes import scraped_review_verify
from reviews.models import LabelChange, ScrapedReview
from reviews.selectors import gold_rows, training_rows
from tests.factories import company_create, labelled_reviews_create, model_version_create, user_review_create_row

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("served_model_reset")]


def row_ids(*, include_user_reviews: bool = False) -> set[str]:
    return {row_id for row_id, _, _ in training_rows(language="en", include_user_reviews=include_user_reviews)}


def test_verifying_from_the_review_list_moves_rows_from_training_to_the_gold_set(staff, staff_user):
    labelled_reviews_create(12)
    chosen = list(ScrapedReview.objects.order_by("pk").values_list("pk", flat=True)[:4])
    page = staff.post(
        reverse("admin:reviews_scrapedreview_changelist"), {"action": "verify_gold", "_selected_action": chosen}
    )
    assert page.status_code == 302
    assert {f"s{pk}" for pk in chosen}.isdisjoint(row_ids()) and len(row_ids()) == 32
    assert [row_id for row_id, _, _ in gold_rows()] == [f"s{pk}" for pk in chosen]
    change = LabelChange.objects.filter(action="verify").first()
    assert change.changed_by == staff_user and LabelChange.objects.filter(action="verify").count() == 4
    listing = staff.get(reverse("admin:reviews_scrapedreview_changelist"), {"gold": "yes"}).content.decode()
    assert listing.count('class="action-select"') == 4

    staff.post(
        reverse("admin:reviews_scrapedreview_changelist"), {"action": "unverify_gold", "_selected_action": chosen[:1]}
    )
    assert f"s{chosen[0]}" in row_ids() and len(gold_rows()) == 3


def test_every_trained_version_is_scored_on_the_gold_set_and_again_on_demand(capsys):
    labelled_reviews_create(14)
    gold = list(ScrapedReview.objects.order_by("pk").values_list("pk", flat=True)[::7])
    scraped_review_verify(review_ids=gold)
    run = training_run_foreground(params={"epochs": 2, "seed": 3, "activate": True})
    assert run.status == run.Status.SUCCEEDED, run.error
    assert run.dataset["rows"] == 42 - len(gold)
    version = run.model_version
    version.refresh_from_db()
    assert version.gold_metrics["n"] == len(gold)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(version.gold_metrics)

    scraped_review_verify(
        review_ids=list(ScrapedReview.objects.filter(verified_at=None).values_list("pk", flat=True)[:3])
    )
    call_command("evaluate", "--gold", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == version.name and result["n"] == len(gold) + 3
    assert ModelVersion.objects.get(pk=version.pk).gold_metrics["n"] == len(gold) + 3


def test_evaluate_gold_says_what_is_missing():
    with pytest.raises(CommandError, match="No model version is active"):
        call_command("evaluate", "--gold")


def test_only_visible_reviews_whose_rating_the_visitor_picked_join_the_dataset():
    labelled_reviews_create(10)
    company = company_create(name="Visited")
    picked = user_review_create_row(company=company, text="Loved it", rating=5, rating_source="picked")
    user_review_create_row(company=company, text="Accepted the guess", rating=4, rating_source="accepted")
    user_review_create_row(company=company, text="Hidden by staff", rating=1, rating_source="picked", status="hidden")
    user_review_create_row(company=company, text="Stored before rating sources", rating=2)
    visitors = {row_id for row_id in row_ids(include_user_reviews=True) if row_id.startswith("u")}
    assert visitors == {f"u{picked.pk}"}
    assert not any(row_id.startswith("u") for row_id in row_ids())


def test_the_compare_page_shows_the_gold_set_beside_the_test_split(staff, trained_checkpoint):
    scored = model_version_create(
        name="tiny-gold",
        checkpoint=trained_checkpoint,
        metrics={"macro_f1": 0.7, "accuracy": 0.71, "test": {"macro_f1": 0.7, "accuracy": 0.71}},
    )
    ModelVersion.objects.filter(pk=scored.pk).update(gold_metrics={"n": 53, "accuracy": 0.6226, "macro_f1": 0.5795})
    unscored = model_version_create(name="tiny-plain", checkpoint=trained_checkpoint)
    page = staff.get(reverse("admin:ml_modelversion_compare"), {"ids": f"{scored.pk},{unscored.pk}"})
    html = page.content.decode()
    assert "gold set macro-F1 · accuracy (n)" in html and "0.5795 · 0.6226 (n=53)" in html


def test_staff_score_versions_on_the_gold_set_from_the_list_and_see_it_on_the_page(staff, trained_checkpoint):
    labelled_reviews_create(per_class=4)
    scraped_review_verify(review_ids=ScrapedReview.objects.values_list("pk", flat=True)[:6])
    version = model_version_create(name="tiny-gold", checkpoint=trained_checkpoint)
    page_url = reverse("admin:ml_modelversion_change", args=[version.pk])
    assert "Not scored yet" in staff.get(page_url).content.decode()

    answer = staff.post(
        reverse("admin:ml_modelversion_changelist"),
        {"action": "score_gold", "_selected_action": [version.pk]},
        follow=True,
    )

    assert "Gold set, tiny-gold: macro-F1" in answer.content.decode()
    version.refresh_from_db()
    assert version.gold_metrics["n"] == 6
    assert "n=6 · accuracy" in staff.get(page_url).content.decode()
