"""The model registry: runs that finish together, or a retry beside a killed run, never share a name or a file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.jobs import run_work
from ml.checkpoint import checkpoint_load
from ml.jobs import training_job
from ml.models import ModelVersion, TrainingRun
from ml.services import (
    model_version_register_trained,
    training_run_execute,
    training_run_retry,
)
from tests.factories import labelled_reviews_create, model_version_create

pytestmark = pytest.mark.usefixtures("served_model_reset")

TINY = {"epochs": 2, "seed": 3}


def at_once(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads released together; each thread has its own database connection."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def body(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except Exception as exc:  # the assertion below shows it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def today_name(number: int) -> str:
    return f"fasttext-{timezone.now():%Y-%m-%d}-{number}"


def assert_each_version_has_its_own_file(versions: list[ModelVersion]) -> None:
    assert len({version.name for version in versions}) == len(versions)
    assert len({version.file for version in versions}) == len(versions)
    for version in versions:
        path = Path(settings.MEDIA_ROOT, version.file)
        assert path.name == f"{version.name}.pt" and path.stat().st_size == version.size_bytes
        assert checkpoint_load(path).meta["name"] == version.name  # the file holds this version's model


@pytest.mark.django_db(transaction=True)  # the threads see only committed rows
def test_two_training_runs_at_once_get_distinct_names_and_files():
    labelled_reviews_create(30)
    runs = [TrainingRun.start_here(params={**TINY, "seed": seed}) for seed in (3, 4)]
    statuses = at_once(2, lambda index: run_work(runs[index], training_run_execute))
    assert statuses == [TrainingRun.Status.SUCCEEDED] * 2
    versions = list(ModelVersion.objects.order_by("name"))
    assert [version.name for version in versions] == [today_name(1), today_name(2)]
    assert_each_version_has_its_own_file(versions)
    linked = {run.model_version_id for run in TrainingRun.objects.all()}
    assert linked == {version.pk for version in versions}
    assert not list(Path(settings.ML_MODELS_DIR).glob(".checkpoint-*"))  # no temporary file left behind


@pytest.mark.django_db(transaction=True)
def test_versions_registered_at_the_same_moment_take_the_next_free_name(trained_checkpoint):
    """Four registrations released together all read the same free name first; each ends with its own."""
    models = [checkpoint_load(trained_checkpoint) for _ in range(4)]
    fields = {"architecture": "fasttext", "hyperparameters": {}, "dataset": {}, "metrics": {}}
    results = at_once(4, lambda index: model_version_register_trained(model=models[index], **fields))
    assert all(isinstance(result, ModelVersion) for result in results), results
    assert sorted(result.name for result in results) == [today_name(n) for n in range(1, 5)]
    assert_each_version_has_its_own_file(list(ModelVersion.objects.all()))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_killed_run_trains_without_touching_the_killed_runs_files(redis_url, trained_checkpoint):
    labelled_reviews_create(30)
    earlier = model_version_create(name=today_name(1), checkpoint=trained_checkpoint)
    earlier_bytes = Path(settings.MEDIA_ROOT, earlier.file).read_bytes()
    # What a run killed mid-way leaves: its row still running (until the reaper fails it), a partial
    # temporary checkpoint, and the file of the name it had claimed when it died before committing.
    killed = TrainingRun.start_here(params=TINY)
    models_dir = Path(settings.ML_MODELS_DIR)
    partial = models_dir / ".checkpoint-killed.pt.tmp"
    partial.write_bytes(b"half a checkpoint")
    claimed = models_dir / f"{today_name(2)}.pt"
    claimed.write_bytes(b"the killed run's checkpoint")
    killed.mark_failed("Abandoned: the worker running it stopped before it finished.")

    retry = training_run_retry(run=killed)
    assert training_job(retry._meta.label, retry.pk) == TrainingRun.Status.SUCCEEDED
    retry.refresh_from_db()
    assert retry.model_version.name == today_name(3)
    assert_each_version_has_its_own_file([retry.model_version])
    assert Path(settings.MEDIA_ROOT, earlier.file).read_bytes() == earlier_bytes
    assert claimed.read_bytes() == b"the killed run's checkpoint"
    assert partial.read_bytes() == b"half a checkpoint"


@pytest.mark.django_db(transaction=True)
def test_a_name_taken_by_a_row_whose_file_is_gone_is_not_reused(trained_checkpoint):
    """The row is the reservation: a version whose file was deleted by hand still owns its name."""
    gone = model_version_create(name=today_name(1), checkpoint=trained_checkpoint)
    Path(settings.MEDIA_ROOT, gone.file).unlink()
    fields = {"architecture": "fasttext", "hyperparameters": {}, "dataset": {}, "metrics": {}}
    version = model_version_register_trained(model=checkpoint_load(trained_checkpoint), **fields)
    assert version.name == today_name(2)
    assert not Path(settings.MEDIA_ROOT, gone.file).exists()
