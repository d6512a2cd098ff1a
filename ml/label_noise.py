"""Find labels that probably do not match their text: out-of-fold probabilities and confident learning. No Django.

Every row is scored by models that never saw it: the rows are split into k folds (a text and its
exact duplicates always share a fold, stratified by label) and each fold is scored by a model
trained on the others, averaged over one or more seeds. By default two model families score each row
and their probabilities are combined (a normalised geometric mean): the network (fastText) and a
TF-IDF (word 1-2 grams, character 2-5 grams) logistic regression from scikit-learn. They err on
different rows, so together they put more wrong labels first than either alone. Then, as in
confident learning (Northcutt, Jiang & Chuang 2021), each class j gets a threshold t_j, the mean
probability of j over the rows labelled j (how sure the models are of that class when it is right);
a row is a suspect when some other class clears its threshold (or is the most probable), and the
suggested label is the class that clears it most. Suspects are ranked by the given label's
probability over its class threshold, less half the expected distance in classes from the label
(`label_doubt`), most likely wrong first. Exact duplicate texts (case and spacing ignored) carrying
different labels are suspects too. With two passes, the second trains without the first pass's most
doubtful rows.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ml.config import TrainingOptions
from ml.data import LabelledTexts, text_key
from reviews.labels import LABELS

Report = Callable[[float, str], None]

DEFAULT_FOLDS = 5
DEFAULT_SEEDS: tuple[int, ...] = (1234,)
VALIDATION_FRACTION = 0.1  # of each fold's training rows, for early stopping
DEFAULT_PASSES = 2
CLEAN_FRACTION = 0.1  # of the rows, most doubtful first, that a later pass does not train on
DISTANCE_WEIGHT = 0.5  # see label_doubt
DEFAULT_LINEAR = True  # combine a TF-IDF + logistic-regression family with the network's
LINEAR_C = 3.0  # the logistic regression's inverse regularisation


@dataclass(frozen=True)
class Suspect:
    """A row whose label probably does not match its text."""

    index: int  # position in the audited rows
    suggested: int  # label index the models favour
    confidence: float  # out-of-fold probability of the suggested label
    margin: float  # suggested probability minus the given label's: higher, more likely wrong
    reason: str  # "model" (confident learning) or "duplicate" (the same text, another label)


@dataclass
class LabelNoiseResult:
    probabilities: np.ndarray  # [N, classes], out of fold
    thresholds: np.ndarray  # [classes]
    suspects: list[Suspect]  # most likely wrong first
    seconds: float = 0.0
    folds: int = DEFAULT_FOLDS
    seeds: tuple[int, ...] = field(default_factory=lambda: DEFAULT_SEEDS)
    linear: bool = DEFAULT_LINEAR  # the TF-IDF + logistic-regression family was combined in
    passes: list[dict[str, np.ndarray]] = field(default_factory=list)  # per pass: family probabilities, left_out


def fold_assignment(texts: Sequence[str], labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """The fold of each row: duplicates of a text share one, and each label is spread evenly over the folds."""
    groups: dict[str, int] = {}
    group_of = np.array([groups.setdefault(text_key(text), len(groups)) for text in texts], dtype=np.int64)
    group_label = np.zeros(len(groups), dtype=np.int64)
    group_label[group_of[::-1]] = labels[::-1]  # a group takes its first row's label
    rng = np.random.default_rng(seed)
    group_fold = np.zeros(len(groups), dtype=np.int64)
    offset = 0
    for label in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(group_label == label))
        group_fold[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return group_fold[group_of]


def out_of_fold_probabilities(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    options: TrainingOptions,
    folds: int = DEFAULT_FOLDS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    leave_out: np.ndarray | None = None,
    report: Report | None = None,
) -> np.ndarray:
    """Probabilities [N, classes] for every row from models trained without it, averaged over `seeds`.

    Rows in `leave_out` (indices) are scored but never trained on.
    """
    from ml.train import train_model

    texts = list(texts)
    labels = np.asarray(labels, dtype=np.int64)
    total = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
    steps, done = folds * len(seeds), 0
    trainable = np.ones(len(texts), dtype=bool)
    if leave_out is not None:
        trainable[leave_out] = False
    for seed in seeds:
        assignment = fold_assignment(texts, labels, folds=folds, seed=seed)
        rng = np.random.default_rng(seed + 1)
        for fold in range(folds):
            held = np.flatnonzero(assignment == fold)
            rest = rng.permutation(np.flatnonzero((assignment != fold) & trainable))
            n_val = max(len(LABELS), round(len(rest) * VALIDATION_FRACTION))
            validation, train = np.sort(rest[:n_val]), np.sort(rest[n_val:])

            def split(members: np.ndarray) -> LabelledTexts:
                return LabelledTexts([texts[i] for i in members], labels[members])

            splits = {"train": split(train), "validation": split(validation), "test": split(held)}
            if report:
                report(done / steps, f"Fold {fold + 1}/{folds}, seed {seed}: training on {len(train)} rows.")
            result = train_model(
                options=TrainingOptions(**{**options.to_params(), "seed": seed}), splits=splits, checkpoint_path=None
            )
            total[held] += result.model.probabilities(splits["test"].texts)
            done += 1
    if report:
        report(1.0, f"Scored {len(texts)} rows out of fold.")
    return total / len(seeds)


def linear_out_of_fold_probabilities(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEEDS[0],
    leave_out: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities [N, classes] from TF-IDF (word 1-2 grams + char 2-5 grams) and logistic regression.

    The same folds as the network's for `seed`; rows in `leave_out` are scored but never trained on.
    Deterministic, and quick beside the network (seconds per fold).
    """
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = list(texts)
    labels = np.asarray(labels, dtype=np.int64)
    trainable = np.ones(len(texts), dtype=bool)
    if leave_out is not None:
        trainable[leave_out] = False
    assignment = fold_assignment(texts, labels, folds=folds, seed=seed)
    result = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
    for fold in range(folds):
        train = np.flatnonzero((assignment != fold) & trainable)
        held = np.flatnonzero(assignment == fold)
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
        train_texts = [texts[i] for i in train]
        x_train = hstack([words.fit_transform(train_texts), chars.fit_transform(train_texts)]).tocsr()
        held_texts = [texts[i] for i in held]
        x_held = hstack([words.transform(held_texts), chars.transform(held_texts)]).tocsr()
        model = LogisticRegression(C=LINEAR_C, max_iter=3000).fit(x_train, labels[train])
        result[np.ix_(held, model.classes_)] = model.predict_proba(x_held)
    return result


def combined_probabilities(families: Sequence[np.ndarray]) -> np.ndarray:
    """The normalised geometric mean of several families' probabilities [N, classes]: a class needs them all."""
    logs = np.mean([np.log(np.clip(probabilities, 1e-6, 1.0)) for probabilities in families], axis=0)
    combined = np.exp(logs - logs.max(axis=1, keepdims=True))
    return combined / combined.sum(axis=1, keepdims=True)


def class_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """t_j: the mean probability of class j over the rows labelled j (1.0 for a class with no rows)."""
    return np.array(
        [probabilities[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(probabilities.shape[1])]
    )


def label_doubt(probabilities: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How well each row's label holds up, lower for a label more likely wrong.

    The given label's probability over its class threshold (normalised self-confidence), less half
    the expected distance in classes between the label and the text (bad→good counts twice): a text
    read two classes away from its label is a stronger sign than a neighbouring one, where honest
    reviewers often differ. On the flipped-label benchmark this puts more flipped rows first than
    either term alone or the margin (docs/PERFORMANCE.md).
    """
    rows = np.arange(len(labels))
    distance = np.abs(np.arange(probabilities.shape[1])[None, :] - labels[:, None])
    expected_distance = (probabilities * distance).sum(axis=1)
    return probabilities[rows, labels] / np.maximum(thresholds[labels], 1e-12) - DISTANCE_WEIGHT * expected_distance


def confident_suspects(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[Suspect]]:
    """(thresholds, suspects): rows the models put in another class, most likely wrong first.

    A row is a suspect when another class clears its threshold or is simply the most probable one.
    The suggested label is the class that clears its threshold by the most (else the most probable
    one). Suspects are ranked by `label_doubt`, lowest first.
    """
    thresholds = class_thresholds(probabilities, labels)
    rows = np.arange(len(labels))
    ratio = probabilities / np.maximum(thresholds, 1e-12)[None, :]
    above = ratio >= 1.0
    above[rows, labels] = False
    suggested = np.where(
        above.any(axis=1), np.where(above, ratio, -np.inf).argmax(axis=1), probabilities.argmax(axis=1)
    )
    wrong = suggested != labels
    margins = probabilities[rows, suggested] - probabilities[rows, labels]
    doubt = label_doubt(probabilities, labels, thresholds)
    order = np.flatnonzero(wrong)[np.argsort(doubt[wrong], kind="stable")]
    suspects = [
        Suspect(int(i), int(suggested[i]), float(probabilities[i, suggested[i]]), float(margins[i]), "model")
        for i in order
    ]
    return thresholds, suspects


def duplicate_suspects(texts: Sequence[str], labels: np.ndarray, probabilities: np.ndarray) -> list[Suspect]:
    """Rows whose exact text (case and spacing ignored) appears elsewhere with another label.

    The group's label is the one the out-of-fold models favour on average among the labels it holds;
    the rows that carry another one are suspects.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        groups[text_key(text)].append(index)
    suspects = []
    for members in groups.values():
        held = sorted({int(labels[i]) for i in members})
        if len(held) < 2:
            continue
        mean = probabilities[members].mean(axis=0)
        chosen = max(held, key=lambda j: mean[j])
        for i in members:
            if labels[i] != chosen:
                margin = float(mean[chosen] - probabilities[i, labels[i]])
                suspects.append(Suspect(i, chosen, float(mean[chosen]), margin, "duplicate"))
    return suspects


def rank_suspects(probabilities: np.ndarray, labels: np.ndarray, texts: Sequence[str]) -> tuple[np.ndarray, list]:
    """(thresholds, suspects), one per row: the model's in their order, then the duplicates they missed.

    A row that is both keeps its place and is marked as a duplicate, the more telling reason.
    """
    thresholds, ranked = confident_suspects(probabilities, labels)
    duplicates = {suspect.index: suspect for suspect in duplicate_suspects(texts, labels, probabilities)}
    ranked = [replace(s, reason="duplicate") if s.index in duplicates else s for s in ranked]
    seen = {suspect.index for suspect in ranked}
    missed = sorted((s for s in duplicates.values() if s.index not in seen), key=lambda s: (-s.margin, s.index))
    return thresholds, ranked + missed


def label_noise_find(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    options: TrainingOptions | None = None,
    folds: int = DEFAULT_FOLDS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    passes: int = DEFAULT_PASSES,
    linear: bool = DEFAULT_LINEAR,
    report: Report | None = None,
) -> LabelNoiseResult:
    """Out-of-fold probabilities, then the ranked suspects (see the module docstring).

    With `linear`, each pass combines the network's probabilities with the TF-IDF + logistic-regression
    ones (`combined_probabilities`). With two passes, the second trains without the first pass's most
    doubtful rows (`CLEAN_FRACTION` of them, still scored): models that learn less noise see it better.
    The result keeps each pass's families ("network", "linear") and the rows it left out ("left_out").
    """
    started = time.perf_counter()
    labels = np.asarray(labels, dtype=np.int64)
    options = options or TrainingOptions()
    leave_out = None
    share = 0.9 if linear else 1.0  # of each pass, for the network
    passes_families: list[dict[str, np.ndarray]] = []
    for number in range(1, passes + 1):

        def progress(done: float, message: str, number: int = number) -> None:
            if report:
                report(((number - 1) + done * share) / passes, f"Pass {number}/{passes}: {message}")

        probabilities = out_of_fold_probabilities(
            texts, labels, options=options, folds=folds, seeds=seeds, leave_out=leave_out, report=progress
        )
        families = {"network": probabilities}
        if linear:
            progress(1.0, "Scoring with TF-IDF + logistic regression.")
            families["linear"] = linear_out_of_fold_probabilities(
                texts, labels, folds=folds, seed=seeds[0], leave_out=leave_out
            )
            probabilities = combined_probabilities(list(families.values()))
        if leave_out is not None:
            families["left_out"] = leave_out
        passes_families.append(families)
        if number < passes:
            doubt = label_doubt(probabilities, labels, class_thresholds(probabilities, labels))
            leave_out = np.argsort(doubt, kind="stable")[: round(len(labels) * CLEAN_FRACTION)]
    thresholds, suspects = rank_suspects(probabilities, labels, texts)
    seconds = time.perf_counter() - started
    return LabelNoiseResult(probabilities, thresholds, suspects, seconds, folds, tuple(seeds), linear, passes_families)
