"""Writes to the model registry: start and run training, register, activate.

Entry points (admin, staff API, `manage.py train`, the RQ job) call these; nothing else changes
`TrainingRun` or `ModelVersion` rows. A training run moves through the lifecycle of `core.jobs`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import StarlingError
from core.jobs import enqueue_run, job_run_retry, run_work
from ml.config import TrainingOptions
from ml.models import ModelVersion, TrainingRun

logger = logging.getLogger(__name__)

TRAINING_JOB = "ml.jobs.training_job"


class ModelVersionError(StarlingError):
    """A model version cannot be used (missing or unreadable checkpoint); the message says why."""

    code = "model_unusable"


def _author(user) -> object | None:
    return user if getattr(user, "is_authenticated", False) else None


def training_run_start(*, params: dict, user=None) -> TrainingRun:
    """Validate the options, record a queued TrainingRun and enqueue it on the "training" queue.

    Raises TrainingOptionsError on bad options, before anything is written; JobQueueUnavailable
    when Redis is down (the run is then recorded as failed, with the reason).
    """
    options = TrainingOptions.from_params(params)
    run = TrainingRun.objects.create(
        params=options.to_params(), created_by=_author(user), progress_message="Waiting for a training worker."
    )
    return enqueue_run(run, TRAINING_JOB, queue="training")


def training_run_retry(*, run: TrainingRun, user=None) -> TrainingRun:
    """Start a new run with the same options as a finished one; JobRunUnfinished while it is not."""
    return job_run_retry(run, lambda: training_run_start(params=run.params, user=user))


def training_run_foreground(*, params: dict, user=None, show_progress: bool = False) -> TrainingRun:
    """Validate the options and train in this process (`manage.py train`); returns the finished run.

    The run is recorded as running from the start (no queue) and ends succeeded or failed with the
    reason, as a queued run does.
    """
    options = TrainingOptions.from_params(params)
    run = TrainingRun.start_here(params=options.to_params(), created_by=_author(user))
    run_work(run, partial(training_run_execute, show_progress=show_progress))
    return TrainingRun.objects.select_related("model_version").get(pk=run.pk)


def training_run_execute(run: TrainingRun, *, show_progress: bool = False) -> ModelVersion:
    """Build the dataset, train, evaluate on the test split, register the version (and activate it if asked)."""
    from ml.data import dataset_build
    from ml.train import train_model

    options = TrainingOptions.from_params(run.params)
    dataset = dataset_build(
        language=options.language,
        include_user_reviews=options.include_user_reviews,
        seed=options.seed,
        max_rows=options.max_rows,
    )
    run.record_progress(dataset=dataset.description)

    def report(progress: float, message: str, history: list[dict] | None = None) -> None:
        run.record_progress(progress, message, **({} if history is None else {"history": history}))

    name = model_version_next_name(architecture=options.architecture)
    checkpoint_path = Path(settings.ML_MODELS_DIR) / f"{name}.pt"
    result = train_model(
        options=options,
        splits=dataset.splits,
        checkpoint_path=checkpoint_path,
        name=name,
        dataset_description=dataset.description,
        report=report,
        show_progress=show_progress,
    )
    version = model_version_register(
        name=name,
        architecture=options.architecture,
        checkpoint_path=checkpoint_path,
        hyperparameters=result.hyperparameters,
        dataset=dataset.description,
        metrics=result.metrics,
    )
    run.record_progress(message=f"Trained {name}.", model_version=version, history=result.history)
    if options.activate:
        model_version_activate(version=version)
    return version


def model_version_next_name(*, architecture: str) -> str:
    """A readable, unused name: `<architecture>-<date>-<n>`."""
    stem = f"{architecture}-{timezone.now():%Y-%m-%d}"
    taken = set(ModelVersion.objects.filter(name__startswith=stem).values_list("name", flat=True))
    number = 1
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


def model_version_register(
    *,
    name: str,
    architecture: str,
    checkpoint_path: Path | str,
    hyperparameters: dict,
    dataset: dict,
    metrics: dict,
) -> ModelVersion:
    """Record a trained checkpoint (under MEDIA_ROOT) as a new, inactive ModelVersion."""
    path = Path(checkpoint_path)
    media_root = Path(settings.MEDIA_ROOT)
    try:
        relative = path.resolve().relative_to(media_root.resolve())
    except ValueError:
        raise ModelVersionError(f"Checkpoint {path} must be stored under MEDIA_ROOT ({media_root}).") from None
    if not path.is_file():
        raise ModelVersionError(f"Checkpoint {path} does not exist.")
    return ModelVersion.objects.create(
        name=name,
        architecture=architecture,
        hyperparameters=hyperparameters,
        dataset=dataset,
        metrics=metrics,
        file=str(relative),
        size_bytes=path.stat().st_size,
    )


def model_version_checkpoint_path(version: ModelVersion) -> Path:
    """Absolute path of a version's checkpoint file."""
    return Path(settings.MEDIA_ROOT) / version.file


def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one the site serves, after checking its checkpoint loads.

    A missing or corrupt checkpoint raises ModelVersionError and the previous version stays active.
    """
    from ml.checkpoint import CheckpointError, checkpoint_load
    from ml.inference import active_version_changed

    try:
        checkpoint_load(model_version_checkpoint_path(version))
    except CheckpointError as exc:
        raise ModelVersionError(f"Cannot activate {version.name}: {exc} The active model was not changed.") from exc
    with transaction.atomic():
        # Lock the rows so two activations at once cannot both win.
        list(ModelVersion.objects.select_for_update().filter(is_active=True))
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        transaction.on_commit(active_version_changed)
    version.is_active = True
    logger.info("Activated model version %s", version.name)
    return version
