"""The label audit: out-of-fold suspects on rows with known flipped labels, the command, the admin queue, the job."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from ml.audit import AuditOptions, AuditOptionsError, audit_run_foreground, audit_run_start
from ml.label_noise import (
    CLEAN_FRACTION,
    combined_probabilities,
    label_noise_find,
    linear_out_of_fold_probabilities,
)
from ml.models import AuditRun, LabelSuspect
from reviews.labels import LABELS
from reviews.models import LabelChange, ScrapedReview
from reviews.selectors import training_rows
from tests.conftest import worker_burst
from tests.factories import company_create, review_texts, user_review_create_row

PER_CLASS = 40
FLIPPED = (3, 17, 44, 61, 85, 99, 104, 118)  # row positions whose label is moved to another class
FAST = {"folds": 3, "seeds": 1, "epochs": 3, "passes": 1}


def generated_rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts, noisy labels, true labels): short learnable reviews per class, FLIPPED moved one class on."""
    texts = [text for stars in (1, 3, 5) for text in review_texts(stars, PER_CLASS, seed=5)]
    true = np.repeat(np.arange(len(LABELS)), PER_CLASS)
    noisy = true.copy()
    noisy[list(FLIPPED)] = (true[list(FLIPPED)] + 1) % len(LABELS)
    return texts, noisy, true


def reviews_with_flipped_labels() -> list[ScrapedReview]:
    """The generated rows as scraped reviews (labelled only by class, as an import of labels stores them)."""
    company = company_create(name="Audit Shop")
    texts, noisy, _ = generated_rows()
    return [
        ScrapedReview.objects.create(
            company=company, source="import", source_id=f"a{n}", label=LABELS[label], text=text, language="en"
        )
        for n, (text, label) in enumerate(zip(texts, noisy, strict=True))
    ]


def test_out_of_fold_confident_learning_ranks_the_flipped_rows_first():
    texts, noisy, true = generated_rows()
    result = label_noise_find(texts, noisy, folds=3, passes=2, options=_options(epochs=3))
    top = [suspect.index for suspect in result.suspects[: len(FLIPPED)]]
    assert len(set(top) & set(FLIPPED)) >= 6
    for suspect in result.suspects[: len(FLIPPED)]:
        if suspect.index in FLIPPED:
            assert suspect.suggested == true[suspect.index]
    assert result.probabilities.shape == (len(texts), 3)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-4)
    first, second = result.passes  # each pass's families, and the rows the second did not train on
    assert set(first) == {"network", "linear"} and set(second) == {"network", "linear", "left_out"}
    assert len(second["left_out"]) == round(len(texts) * CLEAN_FRACTION)


def test_the_network_alone_and_the_tfidf_family_alone_score_every_row_out_of_fold():
    texts, noisy, true = generated_rows()
    network = label_noise_find(texts, noisy, folds=3, passes=1, linear=False, options=_options(epochs=3))
    assert not network.linear and len({s.index for s in network.suspects[: len(FLIPPED)]} & set(FLIPPED)) >= 5
    linear = linear_out_of_fold_probabilities(texts, noisy, folds=3, seed=1234)
    assert linear.shape == (len(texts), 3) and np.allclose(linear.sum(axis=1), 1.0)
    assert (linear[list(FLIPPED)].argmax(axis=1) == true[list(FLIPPED)]).sum() >= 5  # it did not see their labels
    combined = combined_probabilities([network.probabilities, linear])
    assert np.allclose(combined.sum(axis=1), 1.0) and (combined.argmax(axis=1) == true).mean() > 0.9
    with pytest.raises(AuditOptionsError):
        AuditOptions.from_params({"linear": "yes"})
    assert AuditOptions.from_params({"linear": False}).linear is False and AuditOptions().linear


def test_exact_duplicates_with_conflicting_labels_are_suspects():
    texts, noisy, _ = generated_rows()
    texts = [*texts, "  AWFUL service, rude and broken.   Order 999.", "awful service, rude and broken. order 999."]
    noisy = np.append(noisy, [0, 2])
    result = label_noise_find(texts, noisy, folds=3, passes=1, options=_options(epochs=3))
    duplicates = [suspect for suspect in result.suspects if suspect.reason == "duplicate"]
    assert [suspect.index for suspect in duplicates] == [len(texts) - 1]
    assert LABELS[duplicates[0].suggested] == "bad"


@pytest.mark.django_db
def test_the_command_prints_the_fixed_json_most_likely_wrong_first(capsys):
    reviews = reviews_with_flipped_labels()
    call_command(
        "audit_labels", "--json", "--folds", "3", "--seeds", "1", "--epochs", "3", "--passes", "2", "--limit", "8"
    )
    output = json.loads(capsys.readouterr().out)
    assert output["rows"] == len(reviews)
    assert 5 <= len(output["suspects"]) <= 8
    first = output["suspects"][0]
    assert {"id", "text", "label", "suggested_label", "confidence"} <= set(first)
    by_id = {review.pk: review for review in reviews}
    assert first["text"] == by_id[first["id"]].text and first["label"] == by_id[first["id"]].label
    flipped_ids = {reviews[n].pk for n in FLIPPED}
    assert len({suspect["id"] for suspect in output["suspects"]} & flipped_ids) >= 5
    stored = list(LabelSuspect.objects.order_by("rank").values_list("rank", "scraped_review_id"))
    assert [rank for rank, _ in stored] == list(range(1, len(stored) + 1))
    assert [review_id for _, review_id in stored[:8]] == [suspect["id"] for suspect in output["suspects"]]


@pytest.mark.django_db
def test_the_command_excludes_sure_suspects_and_records_why(capsys):
    reviews_with_flipped_labels()
    fast = ["--folds", "3", "--seeds", "1", "--epochs", "3", "--passes", "1"]
    call_command("audit_labels", "--exclude", "--min-confidence", "0.6", *fast, "--limit", "3")
    out = capsys.readouterr()
    assert "suspects among 120 rows" in out.out and "Excluded" in out.out
    assert "Fold 1/3" in out.err  # progress goes to stderr
    sure = LabelSuspect.objects.filter(confidence__gte=0.6)
    assert sure.exists()
    assert set(sure.values_list("resolution", flat=True)) == {LabelSuspect.Resolution.EXCLUDED}
    excluded = ScrapedReview.objects.filter(excluded=True)
    assert set(excluded.values_list("pk", flat=True)) == set(sure.values_list("scraped_review_id", flat=True))
    change = LabelChange.objects.filter(action=LabelChange.Action.EXCLUDE).first()
    assert change.reason.startswith("Label audit #") and change.old_label == change.new_label
    unsure = LabelSuspect.objects.filter(confidence__lt=0.6)
    assert set(unsure.values_list("resolution", flat=True)) <= {LabelSuspect.Resolution.OPEN}


@pytest.mark.django_db
def test_the_review_queue_relabels_confirms_and_excludes_with_an_audit_trail(staff, staff_user):
    reviews_with_flipped_labels()
    run = audit_run_foreground(params=FAST)
    assert run.status == AuditRun.Status.SUCCEEDED, run.error
    first, second, third, *rest = list(run.suspects.order_by("rank"))
    queue = reverse("admin:ml_labelsuspect_changelist")

    page = staff.get(queue, {"audit_run__id__exact": run.pk})
    assert page.status_code == 200
    relabel_url = reverse("admin:ml_labelsuspect_resolve", args=[first.pk, "relabel"])
    assert relabel_url in page.content.decode()

    # One click: relabel the first suspect to its suggestion.
    assert staff.post(relabel_url, HTTP_REFERER=queue).status_code == 302
    review = ScrapedReview.objects.get(pk=first.scraped_review_id)
    assert review.corrected_label == first.suggested_label and review.label == first.label  # original kept
    change = LabelChange.objects.get(review=review)
    assert (change.action, change.old_label, change.new_label) == ("relabel", first.label, first.suggested_label)
    assert change.changed_by == staff_user and change.created_at is not None
    assert first.suggested_label in dict(training_rows_labels())[f"s{review.pk}"]

    # In bulk: confirm two, exclude the rest.
    staff.post(queue, {"action": "confirm_suspects", "_selected_action": [second.pk, third.pk]})
    staff.post(queue, {"action": "exclude_suspects", "_selected_action": [s.pk for s in rest]})
    resolutions = dict(LabelSuspect.objects.values_list("pk", "resolution"))
    assert resolutions[first.pk] == "relabelled"
    assert resolutions[second.pk] == resolutions[third.pk] == "confirmed"
    assert {resolutions[s.pk] for s in rest} == {"excluded"}
    assert ScrapedReview.objects.filter(pk=second.scraped_review_id, excluded=False, corrected_label=None).exists()
    assert ScrapedReview.objects.filter(excluded=True).count() == len(rest)
    assert LabelChange.objects.filter(action="confirm").count() == 2
    assert f"s{second.scraped_review_id}" in dict(training_rows_labels())
    assert f"s{rest[0].scraped_review_id}" not in dict(training_rows_labels())

    # The review's page shows its label history.
    history = staff.get(reverse("admin:reviews_scrapedreview_change", args=[review.pk])).content.decode()
    assert "Label history" in history and f"{first.label} → {first.suggested_label}" in history

    # A decided suspect shows no buttons; the run's page links to what is left.
    assert staff.get(reverse("admin:ml_auditrun_change", args=[run.pk])).status_code == 200
    assert staff.get(relabel_url).status_code == 405


@pytest.mark.django_db
def test_the_admin_starts_an_audit_as_a_queued_job(staff, redis_url, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        page = staff.post(reverse("admin:ml_auditrun_add"), {"folds": 3, "seeds": 1, "passes": 1, "language": "en"})
    run = AuditRun.objects.get()
    assert page.status_code == 302 and page["Location"] == reverse("admin:ml_auditrun_change", args=[run.pk])
    assert run.status == AuditRun.Status.QUEUED and run.job_id and run.params["folds"] == 3
    bad = staff.post(reverse("admin:ml_auditrun_add"), {"folds": 1, "seeds": 1})
    assert bad.status_code == 200 and AuditRun.objects.count() == 1


@pytest.mark.slow  # a worker process trains a model per fold
def test_an_audit_on_a_real_worker_stores_its_suspects(subprocess_env):
    reviews_with_flipped_labels()
    run = audit_run_start(params=FAST)
    done = worker_burst(subprocess_env, "training")
    assert done.returncode == 0, done.stderr[-2000:]
    run.refresh_from_db()
    assert run.status == AuditRun.Status.SUCCEEDED, run.error
    assert run.progress == 1.0 and run.rows == 120 and run.progress_message.startswith("Found")
    assert run.suspects.count() == run.summary["suspects"] > 0


def training_rows_labels() -> list[tuple[str, str]]:
    return [(row_id, label) for row_id, _, label in training_rows(language="en", include_user_reviews=False)]


def _options(**values):
    from ml.config import TrainingOptions

    return TrainingOptions(**values)


@pytest.mark.django_db
def test_the_audit_covers_visitors_picked_reviews_which_staff_can_only_confirm(staff):
    reviews = reviews_with_flipped_labels()
    visitor_review = user_review_create_row(
        company=reviews[0].company,
        text="Love it service, great and friendly staff. Order 999.",
        rating=1,
        rating_source="picked",
    )
    run = audit_run_foreground(params={**FAST, "include_user_reviews": True})
    assert run.rows == len(reviews) + 1
    suspect = LabelSuspect.objects.get(user_review=visitor_review)
    assert (suspect.label, suspect.suggested_label) == ("bad", "good")
    page = staff.get(reverse("admin:ml_labelsuspect_changelist"), {"audit_run__id__exact": run.pk}).content.decode()
    assert reverse("admin:ml_labelsuspect_resolve", args=[suspect.pk, "confirm"]) in page
    assert reverse("admin:ml_labelsuspect_resolve", args=[suspect.pk, "relabel"]) not in page
    staff.post(reverse("admin:ml_labelsuspect_resolve", args=[suspect.pk, "exclude"]))
    assert LabelSuspect.objects.get(pk=suspect.pk).resolution == "open"  # a visitor's stars are theirs
    staff.post(reverse("admin:ml_labelsuspect_resolve", args=[suspect.pk, "confirm"]))
    assert LabelSuspect.objects.get(pk=suspect.pk).resolution == "confirmed"
