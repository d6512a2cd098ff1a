"""The label audit: find the dataset's rows whose label probably does not match the text, and act on them.

An audit is a job (`AuditRun`, the lifecycle of `core.jobs`): started from the admin (a queued RQ
job on the "training" queue) or by `manage.py audit_labels` (in the foreground). It scores every row
of the training dataset out of fold (`ml.label_noise`) and stores the suspects, most likely wrong
first, as `LabelSuspect` rows: the admin's review queue, where staff relabel, confirm or exclude
each one (`label_suspects_resolve`), with the audit trail of `reviews.label_changes`.

`--exclude` (and `audit_suspects_exclude`) takes out the suspects whose suggested label has an
out-of-fold probability of at least `EXCLUDE_CONFIDENCE` (0.9): on the Trustpilot sample with 8 % of
its labels flipped, about half the suspects that sure are flipped rows and most of the rest are the
sample's own mismatched stars (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import partial

from django.db import transaction

from core.authors import recorded_author
from core.errors import StarlingError
from core.jobs import enqueue_run, run_in_foreground
from ml.config import TrainingOptions
from ml.models import AuditRun, LabelSuspect
from reviews.labels import LABELS

AUDIT_JOB = "ml.jobs.audit_job"
EXCLUDE_CONFIDENCE = 0.9
Report = Callable[[float, str], None]


class AuditOptionsError(StarlingError):
    """An option of a label audit is out of range; the message says which and the bounds."""

    code = "invalid_options"


@dataclass(frozen=True)
class AuditOptions:
    """What an audit was asked to do (stored as `AuditRun.params`)."""

    folds: int = 5
    seeds: int = 3  # models averaged per row (seeds 1234, 1235, ...): steadier suspects
    passes: int = 2  # 2: a second pass trains without the first pass's most doubtful rows
    epochs: int = 0  # 0: the architecture's default
    language: str = "en"
    include_user_reviews: bool = False
    architecture: str = "fasttext"
    linear: bool = True  # combine a TF-IDF + logistic-regression family with the network (ml.label_noise)

    BOUNDS = {"folds": (2, 20), "seeds": (1, 5), "passes": (1, 3), "epochs": (0, 100)}

    @classmethod
    def from_params(cls, params: dict | None) -> AuditOptions:
        """Validate a plain dict; unknown names and out-of-range numbers raise AuditOptionsError."""
        params = {name: value for name, value in (params or {}).items() if value is not None}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known)
        if unknown:
            raise AuditOptionsError(
                f"Unknown audit option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        for name, (low, high) in cls.BOUNDS.items():
            if name in params:
                value = params[name]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise AuditOptionsError(
                        f"Audit option {name}={value!r} must be between {low} and {high}.", field=name
                    )
        if "linear" in params and not isinstance(params["linear"], bool):
            raise AuditOptionsError(f"Audit option linear={params['linear']!r} must be true or false.", field="linear")
        training = TrainingOptions.from_params(
            {key: params[key] for key in ("language", "include_user_reviews", "architecture") if key in params}
        )
        return cls(**{**params, "language": training.language, "include_user_reviews": training.include_user_reviews})

    def to_params(self) -> dict:
        return asdict(self)

    def training_options(self) -> TrainingOptions:
        return TrainingOptions(architecture=self.architecture, epochs=self.epochs)

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(1234 + n for n in range(self.seeds))


def audit_run_start(*, params: dict | None = None, user=None) -> AuditRun:
    """Validate the options, record a queued AuditRun and enqueue it (on the "training" queue: it trains models)."""
    options = AuditOptions.from_params(params)
    run = AuditRun.objects.create(
        params=options.to_params(), created_by=recorded_author(user), progress_message="Waiting for a worker."
    )
    return enqueue_run(run, AUDIT_JOB, queue="training")


def audit_run_foreground(*, params: dict | None = None, user=None, report: Report | None = None) -> AuditRun:
    """Validate the options and audit in this process (`manage.py audit_labels`); returns the finished run."""
    options = AuditOptions.from_params(params)
    run = AuditRun.start_here(params=options.to_params(), created_by=recorded_author(user))
    run_in_foreground(run, partial(audit_run_execute, report=report))
    return AuditRun.objects.get(pk=run.pk)


def audit_run_execute(run: AuditRun, *, report: Report | None = None) -> AuditRun:
    """Score the dataset out of fold and store the ranked suspects on the run."""
    import numpy as np

    from ml.data import NotEnoughData
    from ml.label_noise import label_noise_find
    from reviews.selectors import row_review_ids, training_rows

    options = AuditOptions.from_params(run.params)
    rows = training_rows(language=options.language, include_user_reviews=options.include_user_reviews)
    labels = np.array([LABELS.index(label) for _, _, label in rows], dtype=np.int64)
    short = [f"{label} has {n}" for label, n in zip(LABELS, np.bincount(labels, minlength=3), strict=True) if n < 10]
    if short:
        raise NotEnoughData(f"Not enough labelled reviews to audit: {', '.join(short)} (each class needs 10).")

    def progress(done: float, message: str) -> None:
        run.record_progress(done * 0.98, message)
        if report:
            report(done, message)

    run.record_progress(0.0, f"Auditing {len(rows)} rows with {options.folds} folds.", rows=len(rows))
    result = label_noise_find(
        [text for _, text, _ in rows],
        labels,
        options=options.training_options(),
        folds=options.folds,
        seeds=options.seed_list,
        passes=options.passes,
        linear=options.linear,
        report=progress,
    )
    suspects = []
    for rank, suspect in enumerate(result.suspects, start=1):
        suspects.append(
            LabelSuspect(
                audit_run=run,
                rank=rank,
                label=LABELS[labels[suspect.index]],
                suggested_label=LABELS[suspect.suggested],
                confidence=round(suspect.confidence, 4),
                margin=round(suspect.margin, 4),
                reason=suspect.reason,
                **row_review_ids(rows[suspect.index][0]),
            )
        )
    with transaction.atomic():
        LabelSuspect.objects.bulk_create(suspects, batch_size=1000)
        run.record_progress(
            1.0,
            f"Found {len(suspects)} suspects among {len(rows)} rows.",
            summary={
                "folds": result.folds,
                "seeds": list(result.seeds),
                "passes": options.passes,
                "linear": result.linear,
                "thresholds": {label: round(float(t), 4) for label, t in zip(LABELS, result.thresholds, strict=True)},
                "suspects": len(suspects),
                "seconds": round(result.seconds, 1),
            },
        )
    return run


def audit_report(run: AuditRun, *, limit: int | None = None) -> dict:
    """The audit as `manage.py audit_labels --json` prints it: rows and suspects, most likely wrong first."""
    suspects = LabelSuspect.objects.filter(audit_run=run).select_related("scraped_review", "user_review")
    if limit is not None:
        suspects = suspects[:limit]
    return {
        "run": run.pk,
        "rows": run.rows,
        "suspects": [
            {
                "id": suspect.scraped_review_id or suspect.user_review_id,
                "text": suspect.review.text,
                "label": suspect.label,
                "suggested_label": suspect.suggested_label,
                "confidence": suspect.confidence,
                "source": "scraped" if suspect.scraped_review_id else "visitor",
                "reason": suspect.reason,
            }
            for suspect in suspects
        ],
    }


class Resolution:
    """What staff can do with suspects in the review queue."""

    RELABEL = "relabel"  # to the suggested label
    CONFIRM = "confirm"  # the label is right
    EXCLUDE = "exclude"  # take the row out of the dataset
    VERIFY = "verify"  # the label is right, and the row joins the gold set


def label_suspects_resolve(*, suspects: Iterable[LabelSuspect], action: str, user=None) -> int:
    """Act on suspects (scraped reviews; visitors' reviews are confirmed only) with the audit trail; returns how many.

    Relabel gives each review its suggested label; confirm keeps the label; exclude takes the review
    out of the dataset; verify confirms and adds it to the gold set.
    """
    from reviews.label_changes import (
        scraped_review_confirm_label,
        scraped_review_exclude,
        scraped_review_relabel,
        scraped_review_verify,
    )

    resolutions = {
        Resolution.RELABEL: LabelSuspect.Resolution.RELABELLED,
        Resolution.CONFIRM: LabelSuspect.Resolution.CONFIRMED,
        Resolution.EXCLUDE: LabelSuspect.Resolution.EXCLUDED,
        Resolution.VERIFY: LabelSuspect.Resolution.CONFIRMED,
    }
    if action not in resolutions:
        raise AuditOptionsError(f"Unknown action {action!r}; choose one of {', '.join(resolutions)}.", field="action")
    done = 0
    with transaction.atomic():
        for suspect in suspects:
            reason = f"Label audit #{suspect.audit_run_id}, suspect #{suspect.rank}: {suspect.label} → "
            reason += f"{suspect.suggested_label} ({suspect.confidence:.2f})"
            if suspect.scraped_review_id:
                ids = [suspect.scraped_review_id]
                if action == Resolution.RELABEL:
                    scraped_review_relabel(review_ids=ids, label=suspect.suggested_label, user=user, reason=reason)
                elif action == Resolution.CONFIRM:
                    scraped_review_confirm_label(review_ids=ids, user=user, reason=reason)
                elif action == Resolution.EXCLUDE:
                    scraped_review_exclude(review_ids=ids, user=user, reason=reason)
                else:
                    scraped_review_verify(review_ids=ids, user=user, reason=reason)
            elif action != Resolution.CONFIRM:
                continue  # a visitor's review keeps the stars they picked; staff hide it in moderation
            LabelSuspect.objects.filter(pk=suspect.pk).update(resolution=resolutions[action])
            done += 1
    return done


def audit_suspects_exclude(*, run: AuditRun, min_confidence: float = EXCLUDE_CONFIDENCE, user=None) -> int:
    """Exclude the open scraped suspects of `run` whose suggested label is at least this sure; returns how many."""
    sure = run.suspects.filter(
        resolution=LabelSuspect.Resolution.OPEN, confidence__gte=min_confidence, scraped_review__isnull=False
    )
    return label_suspects_resolve(suspects=list(sure), action=Resolution.EXCLUDE, user=user)
