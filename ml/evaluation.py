"""Score a labelled CSV (columns `text`, `label`) with a registered model or the lexicon model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ml import lexicon
from ml.metrics import classification_report
from ml.prediction import LABELS


class EvaluationError(ValueError):
    """The data file or the model name cannot be used; the message says why."""


def _label_of(raw: str, line: int) -> int:
    value = raw.strip().lower()
    if value in LABELS:
        return LABELS.index(value)
    if value in {"1", "2", "3", "4", "5"}:
        from reviews.labels import stars_to_label

        return LABELS.index(stars_to_label(int(value)))
    raise EvaluationError(f"line {line}: label {raw!r} is not one of {', '.join(LABELS)} or 1-5 stars.")


def labelled_csv_read(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Texts and label indices from a CSV with a header holding `text` and `label`."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{path}: no such file.")
    texts: list[str] = []
    labels: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"text", "label"} - set(reader.fieldnames or [])
            if missing:
                raise EvaluationError(
                    f"{path}: the header needs columns text and label (missing {', '.join(sorted(missing))}; "
                    f"found {', '.join(reader.fieldnames or []) or 'no header'})."
                )
            for row in reader:
                text = (row.get("text") or "").strip()
                if not text:
                    continue
                labels.append(_label_of(row.get("label") or "", reader.line_num))
                texts.append(text)
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except csv.Error as exc:
        raise EvaluationError(f"{path}: not a valid CSV file ({exc}).") from None
    if not texts:
        raise EvaluationError(f"{path}: no labelled rows with text.")
    return texts, np.asarray(labels, dtype=np.int64)


def model_probabilities(*, model_name: str | None, texts: list[str]) -> tuple[str, np.ndarray]:
    """(model name, probabilities [N, 3]) from the named version, the active one (None) or the lexicon."""
    from ml.checkpoint import CheckpointError, checkpoint_load
    from ml.inference import clean_text
    from ml.models import ModelVersion
    from ml.services import model_version_checkpoint_path

    cleaned = [clean_text(text) for text in texts]
    if model_name == lexicon.NAME:
        version = None
    elif model_name:
        version = ModelVersion.objects.filter(name=model_name).first()
        if version is None:
            known = ", ".join([lexicon.NAME, *ModelVersion.objects.values_list("name", flat=True)[:20]])
            raise EvaluationError(f"No model named {model_name!r}. Known: {known}.")
    else:
        version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        rows = [lexicon.lexicon_probabilities(text) for text in cleaned]
        return lexicon.NAME, np.array([[row[label] for label in LABELS] for row in rows])
    try:
        model = checkpoint_load(model_version_checkpoint_path(version))
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from exc
    return version.name, model.probabilities(cleaned)


def model_evaluate(*, model_name: str | None, texts: list[str], labels: np.ndarray) -> dict:
    """n, accuracy, macro_f1, per_class, confusion (and the model's name) for labelled texts."""
    name, probabilities = model_probabilities(model_name=model_name, texts=texts)
    return {"model": name, **classification_report(labels, probabilities.argmax(axis=1))}
