"""Writes to the model registry: start and run training, register, activate.

Entry points (admin, staff API, `manage.py train`, the RQ job) call these; nothing else changes
`TrainingRun` or `ModelVersion` rows. A training run moves through the lifecycle of `core.jobs`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.authors import recorded_author
from core.errors import StarlingError
from core.jobs import enqueue_run, job_run_retry, run_in_foreground
from ml.config import TrainingOptions
from ml.models import ModelVersion, TrainingRun

if TYPE_CHECKING:
    from ml.checkpoint import SentimentModel

logger = logging.getLogger(__name__)

TRAINING_JOB = "ml.jobs.training_job"


class ModelVersionError(StarlingError):
    """A model version cannot be used (missing or unreadable checkpoint); the message says why."""

    code = "model_unusable"


def training_run_start(*, params: dict, user=None) -> TrainingRun:
    """Validate the options, record a queued TrainingRun and enqueue it on the "training" queue.

    Raises TrainingOptionsError on bad options, before anything is written; JobQueueUnavailable
    when Redis is down (the run is then recorded as failed, with the reason).
    """
    options = TrainingOptions.from_params(params)
    run = TrainingRun.objects.create(
        params=options.to_params(),
        created_by=recorded_author(user),
        dataset_snapshot=_snapshot(options),
        progress_message="Waiting for a training worker.",
    )
    return enqueue_run(run, TRAINING_JOB, queue="training")


def _snapshot(options: TrainingOptions):
    """The snapshot the options name (DatasetSnapshotError if there is none), or None for the current dataset."""
    from reviews.dataset import dataset_snapshot_get

    return dataset_snapshot_get(options.snapshot) if options.snapshot else None


def training_run_retry(*, run: TrainingRun, user=None) -> TrainingRun:
    """Start a new run with the same options as a finished one; JobRunUnfinished while it is not."""
    return job_run_retry(run, lambda: training_run_start(params=run.params, user=user))


def training_run_foreground(*, params: dict, user=None, show_progress: bool = False) -> TrainingRun:
    """Validate the options and train in this process (`manage.py train`); returns the finished run.

    The run is recorded as running from the start (no queue) and ends succeeded or failed with the
    reason, as a queued run does.
    """
    options = TrainingOptions.from_params(params)
    run = TrainingRun.start_here(
        params=options.to_params(), created_by=recorded_author(user), dataset_snapshot=_snapshot(options)
    )
    run_in_foreground(run, partial(training_run_execute, show_progress=show_progress))
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
        snapshot=options.snapshot,
    )
    run.record_progress(dataset=dataset.description)

    def report(progress: float, message: str, history: list[dict] | None = None) -> None:
        run.record_progress(progress, message, **({} if history is None else {"history": history}))

    result = train_model(
        options=options,
        splits=dataset.splits,
        checkpoint_path=None,
        dataset_description=dataset.description,
        report=report,
        show_progress=show_progress,
    )
    version = model_version_register_trained(
        model=result.model,
        architecture=options.architecture,
        hyperparameters=result.hyperparameters,
        dataset=dataset.description,
        metrics=result.metrics,
    )
    model_version_evaluate_gold(version=version, model=result.model)
    run.record_progress(message=f"Trained {version.name}.", model_version=version, history=result.history)
    if options.activate:
        model_version_activate(version=version)
    return version


def model_version_evaluate_gold(*, version: ModelVersion, model: SentimentModel | None = None) -> dict:
    """Score a version on the gold set (reviews staff verified) and store it as its `gold_metrics`.

    With no gold rows the metrics are `{"n": 0}`. `model` saves loading the checkpoint right after training.
    """
    from ml.gold import gold_set_evaluate

    metrics = gold_set_evaluate(model=model or _checkpoint(version))
    ModelVersion.objects.filter(pk=version.pk).update(gold_metrics=metrics)
    version.gold_metrics = metrics
    return metrics


def model_version_evaluate_gold_named(*, name: str | None) -> dict:
    """`model_version_evaluate_gold` for the version called `name` (None: the active one); the metrics and its name."""
    versions = ModelVersion.objects.all()
    version = versions.filter(name=name).first() if name else versions.filter(is_active=True).first()
    if version is None:
        known = ", ".join(versions.values_list("name", flat=True)[:20]) or "none yet"
        wanted = f"named {name!r}" if name else "is active"
        raise ModelVersionError(f"No model version {wanted}; the gold set scores trained versions. Known: {known}.")
    return {"model": version.name, **model_version_evaluate_gold(version=version)}


def _checkpoint(version: ModelVersion) -> SentimentModel:
    from ml.checkpoint import CheckpointError, checkpoint_load

    try:
        return checkpoint_load(model_version_checkpoint_path(version))
    except CheckpointError as exc:
        raise ModelVersionError(f"Cannot score {version.name}: {exc}") from exc


def model_version_next_name(*, architecture: str) -> str:
    """A readable name no version and no checkpoint file has yet: `<architecture>-<date>-<n>`.

    Only a candidate: another run may take it first, which `model_version_register_trained` notices.
    """
    stem = f"{architecture}-{timezone.now():%Y-%m-%d}"
    taken = set(ModelVersion.objects.filter(name__startswith=stem).values_list("name", flat=True))
    directory = Path(settings.ML_MODELS_DIR)
    number = 1
    while f"{stem}-{number}" in taken or (directory / f"{stem}-{number}.pt").exists():
        number += 1
    return f"{stem}-{number}"


def _media_relative(path: Path) -> Path:
    media_root = Path(settings.MEDIA_ROOT)
    try:
        return path.resolve().relative_to(media_root.resolve())
    except ValueError:
        raise ModelVersionError(f"Checkpoint {path} must be stored under MEDIA_ROOT ({media_root}).") from None


def model_version_register(
    *,
    name: str,
    architecture: str,
    checkpoint_path: Path | str,
    hyperparameters: dict,
    dataset: dict,
    metrics: dict,
) -> ModelVersion:
    """Record an existing checkpoint file (under MEDIA_ROOT) as a new, inactive ModelVersion named `name`."""
    path = Path(checkpoint_path)
    relative = _media_relative(path)
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


REGISTER_ATTEMPTS = 20


def model_version_register_trained(
    *, model: SentimentModel, architecture: str, hyperparameters: dict, dataset: dict, metrics: dict
) -> ModelVersion:
    """Take the next free name and store `model` under it as a new, inactive ModelVersion.

    Runs that finish at once, or a retry beside the leftovers of a killed run, never share a name or a
    file: the name is taken by inserting the row (a run that loses the race tries the next number),
    and the checkpoint goes to a unique temporary file that is then moved onto a path no file had.
    """
    from ml.checkpoint import checkpoint_save_temporary

    directory = Path(settings.ML_MODELS_DIR)
    for _ in range(REGISTER_ATTEMPTS):
        name = model_version_next_name(architecture=architecture)
        model.meta = {**model.meta, "name": name}
        temporary = checkpoint_save_temporary(directory, model)
        try:
            return _model_version_insert(
                name=name,
                architecture=architecture,
                temporary=temporary,
                path=directory / f"{name}.pt",
                hyperparameters=hyperparameters,
                dataset=dataset,
                metrics=metrics,
            )
        except (IntegrityError, FileExistsError):
            logger.info("Model version name %s was taken meanwhile; trying the next one", name)
        finally:
            temporary.unlink(missing_ok=True)
    raise ModelVersionError(
        f"Could not find a free model version name for {architecture} after {REGISTER_ATTEMPTS} tries."
    )


def _model_version_insert(*, name: str, temporary: Path, path: Path, **fields) -> ModelVersion:
    """The row and the file together: IntegrityError or FileExistsError leaves neither behind."""
    from ml.checkpoint import checkpoint_move_new

    placed = False
    try:
        with transaction.atomic():  # a savepoint when called inside a transaction
            version = ModelVersion.objects.create(
                name=name, file=str(_media_relative(path)), size_bytes=temporary.stat().st_size, **fields
            )
            checkpoint_move_new(temporary, path)
            placed = True
    except BaseException:
        if placed:  # the commit failed after the file was moved into place
            path.unlink(missing_ok=True)
        raise
    return version


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
    activated_at = timezone.now()
    with transaction.atomic():
        # Lock the rows so two activations at once cannot both win.
        list(ModelVersion.objects.select_for_update().filter(is_active=True))
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        # A new stamp even when `version` was active already: every process then reloads its file
        # (an operator who restored a damaged checkpoint re-activates the version to serve it again).
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=activated_at)
        transaction.on_commit(active_version_changed)
    version.is_active, version.activated_at = True, activated_at
    logger.info("Activated model version %s", version.name)
    return version
