"""Dataset snapshots: frozen rows and labels, reproducible training from one, streamed exports (command and admin)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command
from django.urls import reverse

from ml.checkpoint import checkpoint_load
from ml.services import model_version_checkpoint_path, training_run_foreground
from reviews.dataset import DatasetSnapshotError, dataset_rows_sha256, dataset_snapshot_create
from reviews.label_changes import scraped_review_relabel
from reviews.models import DatasetSnapshot, ScrapedReview
from tests.factories import labelled_reviews_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("served_model_reset")]


def first_review() -> ScrapedReview:
    return ScrapedReview.objects.order_by("pk").first()


def test_a_snapshot_freezes_the_rows_with_their_effective_labels():
    labelled_reviews_create(12)
    review = first_review()
    scraped_review_relabel(review_ids=[review.pk], label="good", reason="reads as praise")
    snapshot = dataset_snapshot_create(name="nov-cleaned")
    assert snapshot.rows == 36
    assert snapshot.class_counts == {"bad": 11, "average": 12, "good": 13}
    frozen = {member.row_id: member.label for member in snapshot.members.all()}
    assert frozen[f"s{review.pk}"] == "good"
    assert snapshot.sha256 == dataset_rows_sha256(frozen.items())

    # Later changes to the dataset leave the snapshot as it was.
    scraped_review_relabel(review_ids=[review.pk], label="average")
    ScrapedReview.objects.filter(pk=review.pk + 1).update(excluded=True)
    snapshot.refresh_from_db()
    assert {member.row_id: member.label for member in snapshot.members.all()} == frozen
    assert dataset_snapshot_create(name="after").sha256 != snapshot.sha256


def test_snapshot_names_are_checked(capsys):
    labelled_reviews_create(10)
    call_command("snapshot_dataset", "first")
    assert "Snapshot first: 30 rows (bad 10, average 10, good 10)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="exists already"):
        call_command("snapshot_dataset", "first")
    with pytest.raises(CommandError, match="letters, digits"):
        call_command("snapshot_dataset", "no spaces please")
    with pytest.raises(CommandError, match=r"No dataset snapshot named 'nope'\. Known: first"):
        call_command("export_dataset", "--snapshot", "nope", "--format", "csv")


def test_the_same_snapshot_seed_and_threads_train_the_same_model():
    labelled_reviews_create(12)
    snapshot = dataset_snapshot_create(name="frozen")
    params = {"snapshot": "frozen", "epochs": 2, "seed": 11}
    runs = [training_run_foreground(params=params)]
    # The live dataset moves on: a relabel, and a review its author edited that a crawl brought in.
    ScrapedReview.objects.filter(pk=first_review().pk).update(corrected_label="good", text="Edited: all fine now.")
    runs.append(training_run_foreground(params=params))
    for run in runs:
        assert run.status == run.Status.SUCCEEDED, run.error
        assert run.dataset_snapshot == snapshot
        assert run.dataset["source"] == "snapshot" and run.dataset["snapshot_sha256"] == snapshot.sha256
    weights = [checkpoint_load(model_version_checkpoint_path(run.model_version)).network.state_dict() for run in runs]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    assert runs[0].dataset["row_ids_sha256"] == runs[1].dataset["row_ids_sha256"]


def test_a_snapshot_exports_the_texts_it_froze(capsys):
    labelled_reviews_create(4)
    review = first_review()
    dataset_snapshot_create(name="before-edit")
    frozen_text = review.text
    ScrapedReview.objects.filter(pk=review.pk).update(text="The author rewrote this review later.")
    call_command("export_dataset", "--snapshot", "before-edit", "--format", "jsonl")
    rows = {row["id"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[f"s{review.pk}"]["text"] == frozen_text


@pytest.mark.django_db(transaction=True)
def test_snapshots_frozen_before_texts_were_kept_take_their_reviews_texts():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("reviews", "0004_scraped_review_corrected_label_gold_label_change_snapshot")],
        [("reviews", "0005_dataset_snapshot_row_text")],
    )
    labelled_reviews_create(3)
    snapshot = dataset_snapshot_create(name="older")
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        assert "text" not in {field.name for field in old_apps.get_model("reviews", "DatasetSnapshotRow")._meta.fields}
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
    texts = dict(ScrapedReview.objects.values_list("pk", "text"))
    members = list(snapshot.members.all())
    assert len(members) == 9 and all(member.text == texts[member.scraped_review_id] for member in members)


def test_training_refuses_an_unknown_snapshot_before_starting():
    with pytest.raises(DatasetSnapshotError, match="No dataset snapshot named 'ghost'"):
        training_run_foreground(params={"snapshot": "ghost"})


def test_export_streams_csv_and_json_lines(tmp_path, capsys):
    labelled_reviews_create(10)
    review = first_review()
    scraped_review_relabel(review_ids=[review.pk], label="average")
    dataset_snapshot_create(name="s1")
    call_command("export_dataset", "--snapshot", "s1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 30 and set(rows[0]) == {"id", "text", "label"}
    assert {"id": f"s{review.pk}", "text": review.text, "label": "average"} in rows

    target = tmp_path / "current.jsonl"
    call_command("export_dataset", "--format", "jsonl", "--output", str(target))
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 30 and lines[0] == {"id": f"s{review.pk}", "text": review.text, "label": "average"}


def test_the_admin_freezes_a_snapshot_and_streams_its_download(staff):
    labelled_reviews_create(10)
    page = staff.post(reverse("admin:reviews_datasetsnapshot_add"), {"name": "admin-made", "language": "en"})
    snapshot = DatasetSnapshot.objects.get(name="admin-made")
    assert page.status_code == 302 and snapshot.rows == 30
    listing = staff.get(reverse("admin:reviews_datasetsnapshot_changelist")).content.decode()
    url = reverse("admin:reviews_datasetsnapshot_export", args=[snapshot.pk, "jsonl"])
    assert url in listing
    download = staff.get(url)
    assert download.streaming and download["Content-Disposition"] == 'attachment; filename="admin-made.jsonl"'
    assert len(streamed(download).splitlines()) == 30
    current = staff.get(reverse("admin:reviews_datasetsnapshot_export_current", args=["csv"]))
    assert current.streaming and streamed(current).startswith("id,text,label")
    again = staff.post(reverse("admin:reviews_datasetsnapshot_add"), {"name": "admin-made"})
    assert again.status_code == 200 and "exists already" in again.content.decode()


def streamed(response) -> str:
    """What an ASGI server sends of a download: its chunks, read as the server reads them."""
    from asgiref.sync import async_to_sync

    async def chunks() -> list:
        return [chunk async for chunk in response.streaming_content]

    parts = async_to_sync(chunks)()
    assert len(parts) >= 1
    return b"".join(parts).decode()


def test_the_staff_api_refuses_an_unknown_snapshot(staff):
    answer = staff.post("/api/staff/training-runs/", {"snapshot": "ghost", "epochs": 1}, format="json")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "snapshot_invalid" and "No dataset snapshot named 'ghost'" in error["message"]
    assert "snapshot" in error["fields"]
