"""Serving: bad input never crashes, activation switches the model in this and other processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from ml.inference import predict, predict_batch, predictor_reset
from ml.models import ModelVersion
from ml.services import ModelVersionError, model_version_activate
from tests.conftest import ROOT
from tests.factories import model_version_create, shipped_model_name

KEYS = {"score", "label", "probabilities", "suggested_rating", "model"}

pytestmark = pytest.mark.usefixtures("served_model_reset")


def assert_prediction(prediction: dict, model: str) -> None:
    assert set(prediction) == KEYS and prediction["model"] == model
    assert 0.0 <= prediction["score"] <= 1.0
    assert prediction["suggested_rating"] in {1, 2, 3, 4, 5}
    assert prediction["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)
    assert abs(sum(prediction["probabilities"].values()) - 1.0) < 1e-3


BAD_TEXTS = {
    "1 MB": "great product " * 75_000,
    "emoji only": "😀🎉👍🔥" * 10,
    "right to left": "\u202eالخدمة ممتازة جدا\u202c שירות מצוין",
    "control characters": "good\x00\x01\x07 service\x1b[31m\x7f",
    "invalid surrogates": "bad \ud800 service \udfff",
    "mixed": "Ñandú ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\ttabs\r\nlines",
}


@pytest.mark.django_db
@pytest.mark.parametrize("trained", [False, True], ids=["cold-start", "trained"])
def test_bad_input_gets_a_valid_prediction_or_nulls(trained, trained_checkpoint):
    model = shipped_model_name()
    if trained:
        model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))
        model = "tiny-1"
    for name, text in BAD_TEXTS.items():
        prediction = predict(text)
        assert_prediction(prediction, model), name
    for blank in ["", "   ", "\n\t", "\x00\x01", None]:
        assert predict(blank) == {
            "score": None,
            "label": None,
            "probabilities": None,
            "suggested_rating": None,
            "model": model,
        }
    batch = predict_batch(["great", "", "great", "awful"])
    assert [p["label"] is None for p in batch] == [False, True, False, False]
    assert batch[0] == batch[2]


@pytest.mark.django_db(transaction=True)
def test_activation_switches_the_predictor_in_this_process(trained_checkpoint):
    assert predict("Excellent service")["model"] == shipped_model_name()
    first = model_version_create(name="tiny-1", checkpoint=trained_checkpoint)
    model_version_activate(version=first)
    assert predict("Excellent service")["model"] == "tiny-1"
    second = model_version_create(name="tiny-2", checkpoint=trained_checkpoint)
    model_version_activate(version=second)
    assert predict("Excellent service")["model"] == "tiny-2"
    assert list(ModelVersion.objects.filter(is_active=True).values_list("name", flat=True)) == ["tiny-2"]


@pytest.mark.django_db
def test_a_model_that_fails_while_scoring_falls_back_to_the_lexicon(trained_checkpoint, monkeypatch):
    model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))
    assert predict("Excellent service")["model"] == "tiny-1"
    from ml.checkpoint import SentimentModel

    def broken(self, encoded, batch_size=32):
        raise RuntimeError("shape mismatch in layer 3")

    monkeypatch.setattr(SentimentModel, "probabilities_encoded", broken)  # the loaded model breaks from now on
    assert_prediction(predict("Terrible, slow and rude"), "lexicon-vader")
    monkeypatch.undo()
    assert predict("Terrible, slow and rude")["model"] == "tiny-1"  # not served from the fallback's cache


@pytest.mark.django_db
def test_a_model_that_fails_when_it_loads_is_not_served(trained_checkpoint, monkeypatch):
    """Loading scores one text (so the first visitor does not wait); a model that fails there is set aside."""
    from ml.checkpoint import SentimentModel

    def broken(self, texts, batch_size=64):
        raise RuntimeError("shape mismatch in layer 3")

    monkeypatch.setattr(SentimentModel, "probabilities", broken)
    model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))
    assert_prediction(predict("Terrible, slow and rude"), "lexicon-vader")


@pytest.mark.django_db(transaction=True)
def test_a_missing_or_corrupt_checkpoint_is_refused_and_the_previous_model_stays(trained_checkpoint):
    good = model_version_create(name="tiny-1", checkpoint=trained_checkpoint)
    model_version_activate(version=good)
    corrupt = model_version_create(name="tiny-corrupt", checkpoint=trained_checkpoint)
    Path(settings.MEDIA_ROOT, corrupt.file).write_bytes(b"not a checkpoint")
    missing = model_version_create(name="tiny-missing", checkpoint=trained_checkpoint)
    Path(settings.MEDIA_ROOT, missing.file).unlink()
    for version, reason in [(corrupt, "unreadable or corrupt"), (missing, "does not exist")]:
        with pytest.raises(ModelVersionError, match=reason):
            model_version_activate(version=version)
        assert ModelVersion.objects.get(is_active=True) == good
        assert predict("Excellent service")["model"] == "tiny-1"


@pytest.mark.django_db(transaction=True)
def test_predictions_go_on_when_redis_is_down(settings, trained_checkpoint):
    from tests.conftest import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert predict("Excellent service")["model"] == shipped_model_name()
    model_version_activate(version=model_version_create(name="tiny-1", checkpoint=trained_checkpoint))
    assert predict("Excellent service")["model"] == "tiny-1"


@pytest.mark.slow  # a second Django process loads the model
def test_another_process_serves_the_activated_model(subprocess_env, trained_checkpoint):
    def predict_in_subprocess() -> dict:
        done = subprocess.run(
            [sys.executable, "manage.py", "predict", "Fast delivery, friendly staff", "--json"],
            cwd=ROOT,
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    version = model_version_create(name="tiny-1", checkpoint=trained_checkpoint)
    model_version_activate(version=version)
    prediction = predict_in_subprocess()
    assert_prediction(prediction, "tiny-1")
    assert prediction == predict("Fast delivery, friendly staff")


@pytest.mark.django_db(transaction=True)
def test_activating_a_restored_checkpoint_again_serves_it_again(trained_checkpoint):
    version = model_version_create(name="tiny-1", checkpoint=trained_checkpoint)
    model_version_activate(version=version)
    assert predict("Excellent service")["model"] == "tiny-1"
    path = Path(settings.MEDIA_ROOT, version.file)
    good = path.read_bytes()
    path.write_bytes(b"damaged on disk")
    predictor_reset()  # a process that starts now finds the damaged file and serves the lexicon
    assert predict("Excellent service")["model"] == "lexicon-vader"
    path.write_bytes(good)  # the operator restores the file from a backup and activates the version again
    model_version_activate(version=version)
    assert predict("Excellent service")["model"] == "tiny-1"
