"""Score a labelled CSV (columns `text`, `label`, read as `import_reviews` reads it) with a model version."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import StarlingError
from ml import lexicon
from ml.metrics import classification_report
from reviews.importing import labelled_rows_read
from reviews.labels import LABELS


class EvaluationError(StarlingError):
    """No model has the name asked for; the message lists the known ones."""

    code = "model_unknown"


def labelled_csv_read(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Texts and label indices from a CSV with a header holding `text` and `label` (read as the import reads it)."""
    rows = labelled_rows_read(path)
    return [text for text, _ in rows], np.asarray([LABELS.index(label) for _, label in rows], dtype=np.int64)


def model_probabilities(*, model_name: str | None, texts: list[str]) -> tuple[str, np.ndarray]:
    """(model name, probabilities [N, 3]) from the named version, the active one (None) or the lexicon."""
    from ml.checkpoint import checkpoint_load
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
    model = checkpoint_load(model_version_checkpoint_path(version))
    return version.name, model.probabilities(cleaned)


def model_evaluate(*, model_name: str | None, texts: list[str], labels: np.ndarray) -> dict:
    """n, accuracy, macro_f1, per_class, confusion (and the model's name) for labelled texts."""
    name, probabilities = model_probabilities(model_name=model_name, texts=texts)
    return {"model": name, **classification_report(labels, probabilities.argmax(axis=1))}
