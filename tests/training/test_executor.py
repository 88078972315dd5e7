"""The local executor and the worker, run on recorded robot files.

These tests start the real trainer subprocess; the worker test also starts a
real ``manage.py db_worker`` process on the test database.
"""

import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from tests.factories import DatasetFactory, TrainingJobFactory
from tests.training.conftest import WIPE_HDF5
from training.executors import get_executor
from training.executors.local import LocalExecutor, artifact_key
from training.models import TrainingJob
from training.trainer.policy import load_policy

SMALL_NETWORK = {"hidden_sizes": [32, 32], "batch_size": 32, "seed": 1}


def _queued_job(org, datasets, **kwargs) -> TrainingJob:
    return TrainingJobFactory(
        org=org, datasets=datasets, status="queued", executor="local", **kwargs
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_for(predicate, *, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Condition not met within {timeout} seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---------------------------------------------------------------------------
# In-process runs of the local executor


@pytest.mark.django_db
def test_executor_trains_hdf5_to_artifact(org, wipe_dataset, recorded_data):
    job = _queued_job(
        org, [wipe_dataset], hyperparameters={"epochs": 30, **SMALL_NETWORK}
    )

    status = LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert status == "succeeded"
    assert job.status == "succeeded", job.error
    assert job.error == ""
    assert job.progress == 1.0
    assert job.current_epoch == 30
    assert job.total_epochs == 30
    assert [entry["epoch"] for entry in job.metrics] == list(range(1, 31))
    assert job.metrics[0]["loss"] > job.metrics[-1]["loss"]
    assert job.latest_metrics["final_loss"] == pytest.approx(job.metrics[-1]["loss"])
    assert job.started_at <= job.finished_at
    assert "finished" in job.logs

    # The artifact is stored under the job's artifact_key, with its checksum.
    assert job.artifact_key == f"artifacts/{org.pk}/{job.pk}/model.npz"
    stored = Path(default_storage.path(job.artifact_key))
    assert stored.is_file()
    assert job.artifact_size == stored.stat().st_size
    assert job.artifact_sha256 == _sha256(stored)

    # The artifact is a policy for this dataset's states and actions.
    with h5py.File(recorded_data / WIPE_HDF5) as recording:
        states = np.asarray(recording["data/demo_1/states"])
        actions = np.asarray(recording["data/demo_1/actions"])
    policy = load_policy(stored)
    prediction = policy.predict(states[:5])
    assert policy.config["observation_dim"] == states.shape[1]
    assert prediction.shape == (5, actions.shape[1])
    assert np.all(np.isfinite(prediction))


@pytest.mark.django_db
def test_executor_trains_lerobot_archive(org, pick_bottle_dataset):
    job = _queued_job(
        org, [pick_bottle_dataset], hyperparameters={"epochs": 5, **SMALL_NETWORK}
    )

    LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert len(job.metrics) == 5
    assert default_storage.exists(artifact_key(job))


@pytest.mark.django_db
def test_executor_unsupported_model_type_fails(org, wipe_dataset):
    job = _queued_job(org, [wipe_dataset], model_type="act")

    status = LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert status == "failed"
    assert job.status == "failed"
    assert "covers only bc_mlp" in job.error
    assert "'act'" in job.error
    assert job.artifact_key == ""
    assert not default_storage.exists(artifact_key(job))


@pytest.mark.django_db
def test_executor_missing_file_fails(org):
    dataset = DatasetFactory(org=org, storage_key="datasets/nowhere/demo.hdf5")
    job = _queued_job(org, [dataset])

    LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "missing from storage" in job.error
    assert str(dataset.pk) in job.error


@pytest.mark.django_db
def test_executor_max_hours_stops_job(org, wipe_dataset):
    job = _queued_job(
        org,
        [wipe_dataset],
        hyperparameters={"epochs": 10000, "hidden_sizes": [256, 256]},
        compute={"max_hours": 0.0005},
    )

    started = time.monotonic()
    LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "max_hours" in job.error
    assert time.monotonic() - started < 30


@pytest.mark.django_db
def test_executor_redelivered_running_job_fails(org, wipe_dataset):
    job = TrainingJobFactory(org=org, datasets=[wipe_dataset], status="running")

    status = LocalExecutor().run(job.pk)

    job.refresh_from_db()
    assert status == "failed"
    assert "delivered to a worker again" in job.error
    assert job.metrics == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "cancelled", "succeeded"])
def test_executor_skips_job_not_queued(org, wipe_dataset, status):
    job = TrainingJobFactory(org=org, datasets=[wipe_dataset], status=status)

    assert LocalExecutor().run(job.pk) == status

    job.refresh_from_db()
    assert job.status == status
    assert job.started_at is None


@pytest.mark.django_db
def test_task_runs_job_on_its_executor(org, wipe_dataset):
    from training.tasks import run_training_job

    job = _queued_job(
        org, [wipe_dataset], hyperparameters={"epochs": 3, **SMALL_NETWORK}
    )

    status = run_training_job.call(job.pk)

    job.refresh_from_db()
    assert status == "succeeded"
    assert job.status == "succeeded", job.error
    assert run_training_job.queue_name == "training"


def test_executor_registry_rejects_unknown_name():
    from django.core.exceptions import ImproperlyConfigured

    assert isinstance(get_executor("local"), LocalExecutor)
    with pytest.raises(ImproperlyConfigured, match="CENTEROS_TRAINING_EXECUTOR"):
        get_executor("ray")


@pytest.mark.django_db(transaction=True)
def test_cancel_running_job_stops_trainer(call, org, wipe_dataset, caplog):
    caplog.set_level(logging.INFO, logger="training.executors.local")
    job = _queued_job(
        org,
        [wipe_dataset],
        hyperparameters={"epochs": 10000, "hidden_sizes": [256, 256]},
    )

    def run_executor():
        try:
            LocalExecutor().run(job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=run_executor)
    worker.start()
    try:
        _wait_for(
            lambda: TrainingJob.objects.filter(
                pk=job.pk, current_epoch__gte=1
            ).exists(),
            timeout=60,
        )
        result = call("cancel_training", {"job_id": job.pk})
    finally:
        worker.join(timeout=60)

    assert result.status == 200
    assert not worker.is_alive()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.current_epoch < 10000
    assert job.artifact_key == ""
    assert not default_storage.exists(artifact_key(job))
    started = [
        r.getMessage()
        for r in caplog.records
        if "started trainer pid" in r.getMessage()
    ]
    pid = int(re.search(r"pid (\d+)", started[0]).group(1))
    assert not _pid_alive(pid)


# ---------------------------------------------------------------------------
# A real worker process


def _worker_env(storage_root: Path) -> dict[str, str]:
    """Return the environment of a worker that uses this test's database."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{database['NAME']}"
    else:
        user = database["USER"] or "postgres"
        password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
        host = database["HOST"] or "127.0.0.1"
        port = database["PORT"] or 5432
        url = f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "CENTEROS_STORAGE_ROOT": str(storage_root),
        "CENTEROS_TRAINING_EXECUTOR": "local",
    }


@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_launched_job(call, wipe_dataset, _storage_root):
    created = call(
        "create_training_job",
        {
            "dataset_ids": [wipe_dataset.pk],
            "hyperparameters": {"epochs": 10, **SMALL_NETWORK},
        },
    ).data
    launched = call("launch_training", {"job_id": created["id"]})
    assert launched.status == 200
    job = TrainingJob.objects.get(pk=created["id"])
    assert job.task_result_id

    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "training",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--max-tasks",
            "1",
        ],
        cwd=settings.BASE_DIR,
        env=_worker_env(_storage_root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            lambda: (
                TrainingJob.objects.get(pk=job.pk).status
                in ("succeeded", "failed", "cancelled")
            ),
            timeout=120,
            interval=0.2,
        )
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        _, worker_log = worker.communicate(timeout=30)

    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, worker_log[-2000:])
    assert len(job.metrics) == 10
    assert (_storage_root / job.artifact_key).is_file()
    status = call("get_training_status", {"job_id": job.pk}).data
    assert status["artifact"]["sha256"] == _sha256(_storage_root / job.artifact_key)
