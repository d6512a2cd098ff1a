"""Training runs as RQ jobs on a real worker, started from the service the admin and the API call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from core.jobs import JobQueueUnavailable
from ml.checkpoint import checkpoint_load
from ml.jobs import training_job
from ml.models import ModelVersion, TrainingRun
from ml.services import training_run_start
from tests.conftest import ROOT, worker_burst
from tests.factories import labelled_reviews_create

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("served_model_reset")]


@pytest.mark.slow  # a worker process trains a model
def test_a_training_run_on_a_real_worker_trains_and_activates(subprocess_env):
    labelled_reviews_create(30)
    run = training_run_start(params={"epochs": 2, "activate": True, "seed": 3})
    assert run.status == TrainingRun.Status.QUEUED and run.job_id
    done = worker_burst(subprocess_env, "training", timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.progress == 1.0 and run.progress_message.startswith("Trained")
    assert [entry["epoch"] for entry in run.history] == [1, 2]
    assert run.dataset["sizes"]["train"] == 72
    version = ModelVersion.objects.get()
    assert run.model_version == version and version.is_active


@pytest.mark.slow  # two worker processes train at the same time
def test_two_workers_training_at_once_register_two_versions_with_their_own_files(subprocess_env):
    labelled_reviews_create(30)
    runs = [training_run_start(params={"epochs": 2, "seed": seed}) for seed in (3, 4)]
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "training", "--burst"],
            cwd=ROOT,
            env=subprocess_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in runs
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=180)
        assert worker.returncode == 0, errors[-2000:]
    for run in runs:
        run.refresh_from_db()
        assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    versions = list(ModelVersion.objects.all())
    assert len(versions) == 2 and {run.model_version_id for run in runs} == {version.pk for version in versions}
    files = {Path(settings.MEDIA_ROOT, version.file) for version in versions}
    assert len(files) == 2 and all(checkpoint_load(path).meta["name"] == path.stem for path in files)


@pytest.mark.django_db(transaction=True)
def test_the_job_reports_too_little_data_on_the_run(redis_url):
    labelled_reviews_create(5)
    run = training_run_start(params={"epochs": 1})
    assert training_job(run._meta.label, run.pk) == TrainingRun.Status.FAILED
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Not enough labelled reviews to train: bad has 5")
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_starting_a_run_without_redis_says_so_and_records_the_failure(job_queue_down):
    with pytest.raises(JobQueueUnavailable, match="unavailable"):
        training_run_start(params={"epochs": 1})
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED and "Redis" in run.error
