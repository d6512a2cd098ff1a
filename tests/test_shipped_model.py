"""The default model shipped in the repository: served from the first start, rebuilt byte for byte."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from ml.checkpoint import CheckpointError, checkpoint_load
from ml.data import dataset_from_rows
from ml.inference import predict, predict_batch
from ml.metrics import classification_report
from ml.services import model_version_activate
from ml.shipped import (
    MODEL_FILE,
    PROVENANCE_FILE,
    SHIPPED_DIR,
    folded_file_bytes,
    folded_model,
    folded_model_read,
    labelled_csv_dataset,
    model_name,
)
from tests.factories import model_version_create, tiny_rows

pytestmark = pytest.mark.usefixtures("served_model_reset")

PROVENANCE = json.loads((SHIPPED_DIR / PROVENANCE_FILE).read_text())
SHIPPED_NAME = PROVENANCE["name"]
CLEAR_CASES = {
    "Terrible, never again, they stole my money": "bad",
    "Wonderful service, fast delivery, highly recommend": "good",
}


def test_the_shipped_file_is_small_and_is_the_one_its_provenance_describes():
    data = (SHIPPED_DIR / MODEL_FILE).read_bytes()

    assert len(data) == PROVENANCE["size_bytes"] <= 5_000_000
    assert hashlib.sha256(data).hexdigest() == PROVENANCE["sha256"]
    assert model_name(data) == SHIPPED_NAME == "default-fasttext-" + PROVENANCE["sha256"][:8]
    assert PROVENANCE["data"]["file"] == "trustpilot_reviews_sample.csv" and PROVENANCE["data"]["rows_read"] == 4800
    assert PROVENANCE["metrics"]["label_agreement_full_vs_shipped"]["test"] >= 0.99


@pytest.mark.django_db
def test_a_fresh_install_serves_the_shipped_model_without_training():
    for text, label in CLEAR_CASES.items():
        prediction = predict(text)
        assert prediction["model"] == SHIPPED_NAME
        assert prediction["label"] == label
    assert predict("   ")["model"] == SHIPPED_NAME
    assert [p["label"] for p in predict_batch(list(CLEAR_CASES))] == list(CLEAR_CASES.values())


@pytest.mark.django_db
@pytest.mark.usefixtures("empty_cache")
def test_the_prediction_api_names_the_shipped_model(visitor):
    for text, label in CLEAR_CASES.items():
        response = visitor.post("/api/predict/", {"text": text}, format="json")

        assert response.status_code == 200
        assert response.json()["model"] == SHIPPED_NAME
        assert response.json()["label"] == label


@pytest.mark.django_db(transaction=True)
def test_an_activated_version_is_served_instead(trained_checkpoint):
    assert predict("Excellent service")["model"] == SHIPPED_NAME

    model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))

    assert predict("Excellent service")["model"] == "tiny-1"


@pytest.mark.django_db
@pytest.mark.parametrize("damage", ["missing", "not a model", "truncated"])
def test_an_unusable_shipped_file_leaves_the_lexicon_answering_with_a_warning(damage, settings, tmp_path, caplog):
    path = tmp_path / "model.xz"
    if damage == "not a model":
        path.write_bytes(b"<html>404</html>")
    elif damage == "truncated":
        path.write_bytes((SHIPPED_DIR / MODEL_FILE).read_bytes()[:100_000])
    settings.DEFAULT_MODEL = str(path)

    with caplog.at_level(logging.WARNING, logger="ml.shipped"):
        prediction = predict("Terrible, never again, they stole my money")

    assert prediction["model"] == "lexicon-vader" and prediction["label"] == "bad"
    assert any(str(path) in record.getMessage() and record.levelno == logging.WARNING for record in caplog.records)


@pytest.mark.django_db
def test_the_shipped_model_can_be_turned_off(settings):
    settings.DEFAULT_MODEL = "off"

    assert predict("Wonderful service, fast delivery, highly recommend")["model"] == "lexicon-vader"


def test_the_folded_model_scores_as_the_full_network_and_survives_its_file(trained_checkpoint, tmp_path):
    full = checkpoint_load(trained_checkpoint)
    documents = len(dataset_from_rows(tiny_rows(), seed=3).splits["train"])  # as the checkpoint was trained
    texts = [text for _, text, _ in tiny_rows()] + ["never seen: zebra quantum flux 😀", "x"]

    folded = folded_model(full, documents=documents)
    path = tmp_path / "folded.xz"
    path.write_bytes(folded_file_bytes(folded, {"note": "test"}))
    loaded = folded_model_read(path)

    expected = full.probabilities(texts)
    np.testing.assert_allclose(folded.probabilities(texts), expected, atol=1e-3)
    assert (folded.probabilities(texts).argmax(1) == expected.argmax(1)).all()
    np.testing.assert_array_equal(loaded.probabilities(texts), folded.probabilities(texts))
    assert loaded.meta["note"] == "test" and loaded.meta["name"].startswith("default-fasttext-")


def test_a_file_that_is_not_a_default_model_is_refused(tmp_path):
    path = tmp_path / "model.xz"
    path.write_bytes(b"starling-folded-fasttext/1\nnot xz")

    with pytest.raises(CheckpointError, match="corrupt"):
        folded_model_read(path)


@pytest.mark.django_db
def test_a_rebuild_from_the_same_data_gives_the_same_bytes(tmp_path):
    data = tmp_path / "tiny.csv"
    with data.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows((text, label) for _, text, label in tiny_rows())

    for output in ("first", "second"):
        call_command("build_default_model", "--data", str(data), "--output", str(tmp_path / output), verbosity=0)

    for name in (MODEL_FILE, PROVENANCE_FILE):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
    provenance = json.loads((tmp_path / "first" / PROVENANCE_FILE).read_text())
    assert folded_model_read(tmp_path / "first" / MODEL_FILE).meta["name"] == provenance["name"]
    assert provenance["data"]["rows_read"] == len(tiny_rows()) and provenance["threads"] == 1


def test_the_shipped_model_scores_the_sample_as_its_provenance_says(shared_data: Path):
    test = labelled_csv_dataset(shared_data / PROVENANCE["data"]["file"], seed=PROVENANCE["seed"]).splits["test"]

    labels = folded_model_read(SHIPPED_DIR / MODEL_FILE).probabilities(test.texts).argmax(axis=1)

    assert classification_report(test.labels, labels) == PROVENANCE["metrics"]["shipped_model"]
