"""Serving: `predict(text)` and `predict_batch(texts)` answer with the fixed prediction object.

One `Predictor` per process, created on first use. It serves the active `ModelVersion`, loaded once,
and notices an activation without a restart, including a second activation of the version it already
serves (which reloads the file: how a restored checkpoint is served again). At most every
`PROCESS_CHECK_S` seconds it reads the active version's id and activation stamp from the Django cache
(Redis when REDIS_URL is set, refreshed by the activation itself), falling back to one small database
query when the cache is empty or Redis is down. While no version is active it serves the default
model shipped in the repository (`ml.shipped`); if the active checkpoint, or with none active the
shipped file, cannot be loaded, it answers with the cold-start lexicon model. `model` says which.

Text handling: lone surrogates become U+FFFD, control characters are dropped, the text is cut to
PREDICTION_MAX_CHARS, then the model reads what its encoding keeps: `charcnn` the first 1,014
characters (as the tutorial), `cnn` the first 2,000, `fasttext` all of it (up to 5,000). Empty or
blank text gets the null prediction. Repeated texts (typing sends the same prefix again) are served
from a small LRU cache per process.

`predict_batch` also takes, per text, whether to add its `explanation` (`ml.explanation`, computed
only when asked) and a connection's `TypingState` (`ml.incremental`: the text encoded from the change
since that connection's previous one, the same encoding as from scratch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from ml import lexicon
from ml.cleaning import clean_text
from ml.incremental import TypingState
from ml.prediction import empty_prediction, prediction_from_probabilities
from reviews.labels import LABELS

logger = logging.getLogger(__name__)

PROCESS_CHECK_S = 2.0  # how stale this process's idea of the active version may be
CACHE_KEY = "ml:active-model-version"
CACHE_TTL_S = 10  # also bounds staleness where the cache is per-process (no REDIS_URL)
CACHE_RETRY_S = 30.0  # after a cache (Redis) error, go straight to the database for this long
LRU_SIZE = 2048
# What identifies the served model: (id, name, file, activation stamp). The stamp changes on every
# activation, so re-activating the version already active reloads its file in every process.
ActiveVersion = tuple[int, str, str, str]


def _active_version_from_database() -> ActiveVersion | None:
    from ml.models import ModelVersion

    row = ModelVersion.objects.filter(is_active=True).values_list("pk", "name", "file", "activated_at").first()
    if row is None:
        return None
    pk, name, file, activated_at = row
    return pk, name, file, activated_at.isoformat() if activated_at else ""


_cache_down_until = 0.0


def _cache_call(method: str, *args):
    """cache.get / cache.set that never raise; after a failure the cache is skipped for CACHE_RETRY_S."""
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        return getattr(cache, method)(*args)
    except Exception as exc:  # Redis down: the database still answers
        _cache_down_until = time.monotonic() + CACHE_RETRY_S
        logger.warning("cache unavailable (%s); reading the active model version from the database", exc)
        return None


def active_version() -> ActiveVersion | None:
    """(id, name, file, activation stamp) of the active version, or None; from the cache, else the database."""
    cached = _cache_call("get", CACHE_KEY)
    if cached is not None:
        return tuple(cached) if cached else None
    current = _active_version_from_database()
    _cache_call("set", CACHE_KEY, list(current) if current else [], CACHE_TTL_S)
    return current


class Predictor:
    """Scores texts with the active model of this process."""

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(settings.TORCH_THREADS)
        self._lock = threading.Lock()
        from ml.shipped import shipped_model

        self._version: ActiveVersion | None = None
        self._model = shipped_model()  # while no version is active; None (the lexicon) if it cannot load
        self._checked_at = float("-inf")
        self._cache: OrderedDict[str, dict] = OrderedDict()

    @property
    def model_name(self) -> str:
        if self._model is None:
            return lexicon.NAME
        return self._version[1] if self._version is not None else self._model.meta["name"]

    def expire(self) -> None:
        """Re-check the active version on the next prediction."""
        self._checked_at = float("-inf")

    def refresh(self) -> None:
        """Load the active version if it changed or was activated again (checked at most every PROCESS_CHECK_S s)."""
        if time.monotonic() - self._checked_at < PROCESS_CHECK_S:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < PROCESS_CHECK_S:
                return
            wanted = active_version()
            self._checked_at = time.monotonic()
            if wanted == self._version:
                return
            self._switch(wanted)

    def _switch(self, wanted: ActiveVersion | None) -> None:
        from ml.checkpoint import CheckpointError, checkpoint_load
        from ml.shipped import shipped_model

        model = shipped_model() if wanted is None else None
        if wanted is not None:
            try:
                model = checkpoint_load(Path(settings.MEDIA_ROOT) / wanted[2])
                model.probabilities(["warm up"])  # builds what scoring needs now, not on a visitor's keystroke
            except CheckpointError:
                logger.exception("Active model %s cannot be loaded; serving %s", wanted[1], lexicon.NAME)
                model = None
            except Exception:
                logger.exception("Active model %s fails while scoring; serving %s", wanted[1], lexicon.NAME)
                model = None
        self._version, self._model = wanted, model
        self._cache.clear()
        logger.info("Serving sentiment model %s", self.model_name)

    def predict_batch(
        self, texts: list[str], *, explain: list[bool] | None = None, states: list[TypingState | None] | None = None
    ) -> list[dict]:
        """One prediction object per text, in order; with `explain[i]`, text i's also holds its `explanation`.

        `states[i]`, a connection's `TypingState`, lets text i be encoded from the change since that
        connection's previous text (the same encoding as from scratch; `ml.incremental`).
        """
        self.refresh()
        model, name = self._model, self.model_name
        cleaned = [clean_text(text) for text in texts]
        results: list[dict | None] = [None] * len(cleaned)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for index, text in enumerate(cleaned):
                if not text.strip():
                    results[index] = empty_prediction(name)
                elif (hit := self._cache.get(text)) is not None and hit["model"] == name:
                    self._cache.move_to_end(text)
                    results[index] = hit
                else:
                    missing.setdefault(text, []).append(index)
        if missing:
            unique = list(missing)
            if model is not None:
                try:
                    rows = model.probabilities_encoded(self._encoded(model, missing, states), batch_size=32)
                    probabilities = [dict(zip(LABELS, row.tolist(), strict=True)) for row in rows]
                except Exception:
                    # A model that loads but cannot score must not take the site down: answer with the
                    # lexicon for these texts, and say so in `model`.
                    logger.exception(
                        "Model %s failed to score %d texts; answering with %s", name, len(unique), lexicon.NAME
                    )
                    model, name = None, lexicon.NAME
            if model is None:
                probabilities = [lexicon.lexicon_probabilities(text) for text in unique]
            with self._lock:
                for text, probs in zip(unique, probabilities, strict=True):
                    prediction = prediction_from_probabilities(probs, name)
                    self._cache[text] = prediction
                    for index in missing[text]:
                        results[index] = prediction
                while len(self._cache) > LRU_SIZE:
                    self._cache.popitem(last=False)
        answers = [{**result, "probabilities": dict(result["probabilities"] or {}) or None} for result in results]
        for index, wanted in enumerate(explain or ()):
            if wanted:
                answers[index]["explanation"] = self._explanation(model, texts[index])
        return answers

    @staticmethod
    def _encoded(model, missing: dict[str, list[int]], states: list | None) -> list:
        """Each missing text encoded, from the change since its connection's previous text where one is given."""
        encoded = []
        for text, indices in missing.items():
            state = states[indices[0]] if states else None
            encoded.append(model.encoding.encode(text) if state is None else state.encode(model.encoding, text))
        return encoded

    @staticmethod
    def _explanation(model, text: str) -> list[dict]:
        """Why `model` scored `text` as it did; an explanation that fails is logged and left empty."""
        from ml.explanation import explain

        try:
            return explain(model, text)
        except Exception:
            logger.exception("Explaining a prediction failed")
            return []


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
    """Called after an activation commits: publish the new active version and re-check it here now."""
    current = _active_version_from_database()
    _cache_call("set", CACHE_KEY, list(current) if current else [], CACHE_TTL_S)
    if _predictor is not None:
        _predictor.expire()


def predictor_reset() -> None:
    """Forget this process's predictor and the shared note of the active version: the next prediction
    loads the active model afresh. For tests and for operators after changing model files by hand."""
    global _predictor, _cache_down_until
    with _predictor_lock:
        _predictor = None
    _cache_down_until = 0.0
    _cache_call("delete", CACHE_KEY)


def predict(text: str, *, explain: bool = False) -> dict:
    """The prediction object for one text, from the active model; with `explain`, also its `explanation`."""
    return get_predictor().predict_batch([text], explain=[explain])[0]


def predict_batch(
    texts: list[str], *, explain: list[bool] | None = None, states: list[TypingState | None] | None = None
) -> list[dict]:
    """Prediction objects for several texts, in order (see `Predictor.predict_batch`)."""
    return get_predictor().predict_batch(list(texts), explain=explain, states=states)
