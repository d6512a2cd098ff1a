"""Serving: `predict(text)` and `predict_batch(texts)` answer with the fixed prediction object.

One `Predictor` per process. Until a trained model is activated it answers with the cold-start
lexicon model and says so in `model`.
"""

from __future__ import annotations

import threading

from django.conf import settings

from ml import lexicon
from ml.prediction import empty_prediction, prediction_from_probabilities


def clean_text(text: str) -> str:
    """Make any string safe to score: lone surrogates replaced, control characters dropped, cut to the limit."""
    text = str(text).encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t ")
    return text[: settings.PREDICTION_MAX_CHARS]


class Predictor:
    """Scores texts with the active model of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return lexicon.NAME

    def predict_batch(self, texts: list[str]) -> list[dict]:
        """One prediction object per text, in order."""
        cleaned = [clean_text(text) for text in texts]
        return [
            prediction_from_probabilities(lexicon.lexicon_probabilities(text), lexicon.NAME)
            if text.strip()
            else empty_prediction(lexicon.NAME)
            for text in cleaned
        ]


_predictor: Predictor | None = None
_predictor_lock = threading.Lock()


def get_predictor() -> Predictor:
    """This process's predictor, created on first use."""
    global _predictor
    if _predictor is None:
        with _predictor_lock:
            if _predictor is None:
                _predictor = Predictor()
    return _predictor


def active_version_changed() -> None:
    """Called after an activation commits: this process re-checks the active version on its next prediction."""


def predict(text: str) -> dict:
    """The prediction object for one text, from the active model."""
    return get_predictor().predict_batch([text])[0]


def predict_batch(texts: list[str]) -> list[dict]:
    """Prediction objects for several texts, in order."""
    return get_predictor().predict_batch(list(texts))
