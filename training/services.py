"""Write-side rules of training jobs: create, launch, cancel, progress, failure.

The actions, the admin, the management commands and the executors all change
jobs through these functions. State changes lock the job row with
``select_for_update`` and go through ``TrainingJob.transition_to``, so two
concurrent requests give one winner and a 409 for the other.
"""

import logging
import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from centeros.errors import Conflict, InvalidInput, NotFound
from datasets.choices import DatasetStatus
from datasets.models import Dataset
from training import catalog
from training.choices import ACTIVE_STATUSES, JobMode, JobStatus
from training.costs import estimate_cost
from training.executors.base import executor_names
from training.models import TrainingJob

logger = logging.getLogger(__name__)

BUILTIN_MODEL_TYPE = "bc_mlp"
# Dataset file types the built-in trainer reads.
BUILTIN_FILE_TYPES = ("hdf5", "lerobot")
MAX_DATASETS_PER_JOB = 100
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 1_000_000
MAX_HIDDEN_LAYERS = 8
MAX_HIDDEN_SIZE = 4096
MAX_SEED = 2**32 - 1
MAX_VALIDATION_SPLIT = 0.5
MAX_GPU_COUNT = 64
# Trainer log lines kept on the job (the tail of its stderr).
LOG_TAIL_LINES = 200


# ---------------------------------------------------------------------------
# Create


def training_job_create(
    *,
    org,
    user,
    dataset_ids: list[int],
    name: str | None = None,
    model_type: str | None = None,
    mode: str = JobMode.TRAIN,
    base_model: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    compute: dict[str, Any] | None = None,
) -> TrainingJob:
    """Create a pending training job on ready datasets of ``org``.

    Raises NotFound when a dataset id is not in ``org`` (another
    organisation's id included), Conflict when a dataset is not ready, and
    InvalidInput for an unknown model type or base model, a fine-tune without
    a base model, invalid hyperparameters or compute settings.
    """
    base_entry = _check_base_model(mode=mode, base_model=base_model)
    model_type = _check_model_type(model_type, base_entry=base_entry)
    hyperparameters = check_hyperparameters(model_type, hyperparameters or {})
    compute = check_compute(compute or {})
    datasets = datasets_for_training(org=org, dataset_ids=dataset_ids)
    _check_dataset_types(model_type, datasets)

    name = (name or "").strip() or f"{model_type}-{timezone.now():%Y%m%d-%H%M%S}"
    job = TrainingJob.objects.create(
        org=org,
        name=name,
        model_type=model_type,
        mode=mode,
        base_model=base_model or "",
        hyperparameters=hyperparameters,
        compute=compute,
        total_epochs=hyperparameters.get("epochs")
        or catalog.get_model_type(model_type).get("default_epochs"),
        created_by=user,
    )
    job.datasets.set(datasets)
    logger.info(
        "Created training job %s (%s, %s) on datasets %s in org %s",
        job.pk,
        model_type,
        mode,
        [dataset.pk for dataset in datasets],
        org.pk,
    )
    return job


def datasets_for_training(
    *, org, dataset_ids: Iterable[int], lock: bool = False
) -> list[Dataset]:
    """Return the datasets of ``org`` with these ids, all of them ready.

    With ``lock`` the dataset rows stay locked until the transaction ends, so
    a concurrent delete waits for the launch and then finds the queued job.
    Raises InvalidInput for an empty list, NotFound naming the ids that are
    not in ``org``, and Conflict naming the first dataset that is not ready.
    """
    ids = list(dict.fromkeys(dataset_ids))
    if not ids:
        raise InvalidInput(
            "dataset_ids is empty; give the id of at least one ready dataset.",
            errors={"dataset_ids": ["Give at least one dataset id."]},
        )
    if len(ids) > MAX_DATASETS_PER_JOB:
        raise InvalidInput(
            f"dataset_ids lists {len(ids)} datasets; a job takes at most "
            f"{MAX_DATASETS_PER_JOB}.",
            errors={"dataset_ids": [f"At most {MAX_DATASETS_PER_JOB} ids."]},
        )

    datasets = Dataset.objects.for_org(org).filter(pk__in=ids)
    if lock:
        datasets = datasets.select_for_update()
    found = {dataset.pk: dataset for dataset in datasets}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing)
        raise NotFound(
            f"No dataset with id {shown} exists in this organisation.",
            code="dataset_not_found",
        )

    datasets = [found[pk] for pk in ids]
    for dataset in datasets:
        if dataset.status != DatasetStatus.READY:
            raise Conflict(
                f"Dataset {dataset.pk} ({dataset.name}) is {dataset.status}, not "
                "ready; only ready datasets can be used for training. Finish its "
                "upload with confirm_upload or pick another dataset.",
                code="dataset_not_ready",
            )
    return datasets


def _check_base_model(*, mode: str, base_model: str | None) -> dict | None:
    if mode == JobMode.TRAIN:
        if base_model:
            raise InvalidInput(
                f"base_model {base_model!r} applies only to mode 'finetune'; "
                "remove it or set mode to 'finetune'.",
                errors={"base_model": ["Only for mode 'finetune'."]},
            )
        return None

    if not base_model:
        raise InvalidInput(
            "base_model is required when mode is 'finetune'; "
            "get_finetune_catalog lists the base models.",
            errors={"base_model": ["This field is required for mode 'finetune'."]},
        )
    entry = catalog.get_base_model(base_model)
    if entry is None:
        raise InvalidInput(
            f"Unknown base_model {base_model!r}; get_finetune_catalog lists the "
            "base models.",
            errors={"base_model": ["Not in the fine-tune catalog."]},
        )
    if JobMode.FINETUNE not in entry["modes"]:
        raise InvalidInput(
            f"Base model {base_model!r} supports only the modes "
            f"{', '.join(entry['modes'])}, not 'finetune'.",
            errors={"base_model": ["Does not support fine-tuning."]},
        )
    return entry


def _check_model_type(model_type: str | None, *, base_entry: dict | None) -> str:
    """Return the canonical model type; a fine-tune defaults to its base's."""
    if model_type is None:
        return base_entry["model_type"] if base_entry else BUILTIN_MODEL_TYPE

    canonical = catalog.resolve_model_type(model_type)
    if canonical is None:
        raise InvalidInput(
            f"Unknown model_type {model_type!r}; use one of "
            f"{', '.join(catalog.model_types())}.",
            errors={"model_type": ["Unknown model type."]},
        )
    if base_entry is not None and base_entry["model_type"] != canonical:
        raise InvalidInput(
            f"Base model {base_entry['name']!r} is a {base_entry['model_type']} "
            f"model, not {canonical}; set model_type to "
            f"{base_entry['model_type']} or pick another base model.",
            errors={"model_type": ["Does not match the base model."]},
        )
    return canonical


def _check_dataset_types(model_type: str, datasets: list[Dataset]) -> None:
    if model_type != BUILTIN_MODEL_TYPE:
        return
    for dataset in datasets:
        if dataset.file_type not in BUILTIN_FILE_TYPES:
            raise InvalidInput(
                f"Dataset {dataset.pk} ({dataset.name}) is a {dataset.file_type} "
                f"dataset; the {BUILTIN_MODEL_TYPE} trainer reads only "
                f"{' and '.join(BUILTIN_FILE_TYPES)} datasets.",
                errors={"dataset_ids": [f"Dataset {dataset.pk} cannot be trained on."]},
            )


def check_hyperparameters(model_type: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Return the hyperparameters after checking the keys that CenterOS defines.

    Known keys must have the right type and range. The built-in trainer
    accepts only its known keys; other model types pass unknown keys on to
    their framework unchecked.
    """
    errors: dict[str, list[str]] = {}

    def fail(key: str, message: str) -> None:
        errors[f"hyperparameters.{key}"] = [message]

    for key, (low, high) in {
        "epochs": (1, MAX_EPOCHS),
        "batch_size": (1, MAX_BATCH_SIZE),
        "seed": (0, MAX_SEED),
    }.items():
        if key in raw and not (_is_integer(raw[key]) and low <= raw[key] <= high):
            fail(key, f"Must be an integer from {low} to {high}, got {raw[key]!r}.")

    if "learning_rate" in raw:
        value = raw["learning_rate"]
        if not (_is_number(value) and 0 < value <= 1):
            fail(
                "learning_rate",
                f"Must be a number above 0 and at most 1, got {value!r}.",
            )
    if "validation_split" in raw:
        value = raw["validation_split"]
        if not (_is_number(value) and 0 <= value <= MAX_VALIDATION_SPLIT):
            fail(
                "validation_split",
                f"Must be a number from 0 to {MAX_VALIDATION_SPLIT}, got {value!r}.",
            )
    if "weight_decay" in raw:
        value = raw["weight_decay"]
        if not (_is_number(value) and value >= 0):
            fail("weight_decay", f"Must be a number of at least 0, got {value!r}.")
    if "hidden_sizes" in raw:
        value = raw["hidden_sizes"]
        if not (
            isinstance(value, list)
            and 1 <= len(value) <= MAX_HIDDEN_LAYERS
            and all(
                _is_integer(size) and 1 <= size <= MAX_HIDDEN_SIZE for size in value
            )
        ):
            fail(
                "hidden_sizes",
                f"Must be a list of 1 to {MAX_HIDDEN_LAYERS} integers from 1 to "
                f"{MAX_HIDDEN_SIZE}, got {value!r}.",
            )

    if model_type == BUILTIN_MODEL_TYPE:
        known = {
            "epochs",
            "batch_size",
            "learning_rate",
            "hidden_sizes",
            "seed",
            "validation_split",
            "weight_decay",
        }
        for key in sorted(set(raw) - known):
            fail(
                key,
                f"Unknown for {BUILTIN_MODEL_TYPE}; use {', '.join(sorted(known))}.",
            )

    if errors:
        field, messages = next(iter(errors.items()))
        raise InvalidInput(f"Invalid parameter '{field}': {messages[0]}", errors=errors)
    return dict(raw)


def check_compute(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the compute settings after checking gpu_type against the catalog."""
    gpu_type = raw.get("gpu_type")
    if gpu_type is not None:
        gpus = catalog.load_catalog()["gpus"]
        if gpu_type not in gpus:
            raise InvalidInput(
                f"Unknown compute.gpu_type {gpu_type!r}; use one of {', '.join(gpus)}.",
                errors={"compute.gpu_type": ["Unknown GPU type."]},
            )
    return dict(raw)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


# ---------------------------------------------------------------------------
# Launch and cancel


def training_job_launch(*, org, job_id: str, enqueue: bool = True) -> TrainingJob:
    """Move a pending job to ``queued`` and enqueue it after the commit.

    Runs in a transaction holding the job's row lock, so of two concurrent
    launches exactly one succeeds and the other gets Conflict. Raises NotFound
    for a job outside ``org`` and Conflict for a job that is not pending or
    whose datasets are no longer ready. With ``enqueue=False`` no worker task
    is made, and the caller runs the executor itself.
    """
    with transaction.atomic():
        job = _locked_job(org=org, job_id=job_id)
        if job.status != JobStatus.PENDING:
            raise Conflict(
                f"Training job {job.pk} is {job.status}; only a pending job can be "
                "launched, and each job is launched once.",
                code="invalid_transition",
            )
        dataset_ids = list(job.datasets.values_list("pk", flat=True))
        if not dataset_ids:
            raise Conflict(
                f"Training job {job.pk} has no datasets left because they were "
                "deleted; create a new job on existing datasets.",
                code="datasets_deleted",
            )
        datasets_for_training(org=org, dataset_ids=dataset_ids, lock=True)

        executor = settings.CENTEROS_TRAINING_EXECUTOR
        if executor not in executor_names():
            raise InvalidInput(
                f"The server's training executor {executor!r} is unknown; an "
                f"administrator must set CENTEROS_TRAINING_EXECUTOR to one of "
                f"{', '.join(executor_names())}.",
                code="executor_unknown",
            )
        job.transition_to(JobStatus.QUEUED)
        job.executor = executor
        job.save(update_fields=["status", "queued_at", "executor"])

        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    logger.info("Launched training job %s on executor %s", job.pk, executor)
    return job


def _enqueue(job_id: str) -> None:
    """Enqueue the job's task and store the task result id on the job.

    Runs after the launch commits. An enqueue failure marks the job failed,
    because no worker would ever pick it up.
    """
    from training.tasks import run_training_job

    try:
        result = run_training_job.enqueue(job_id)
    except Exception as error:
        logger.exception("Enqueueing training job %s failed", job_id)
        training_job_fail(
            job_id=job_id,
            message=f"The job could not be put on the task queue ({error}); "
            "launch a new job once the queue works again.",
        )
        return
    TrainingJob.objects.filter(pk=job_id).update(task_result_id=str(result.id))
    logger.info("Enqueued training job %s as task %s", job_id, result.id)


def training_job_cancel(*, org, job_id: str) -> TrainingJob:
    """Cancel a pending, queued or running job; a finished job is Conflict.

    A running job is marked cancelled at once with ``cancel_requested`` set;
    its executor detects that within about a second, stops the trainer process
    and discards any artifact.
    """
    with transaction.atomic():
        job = _locked_job(org=org, job_id=job_id)
        was = job.status
        if was not in (JobStatus.PENDING, *ACTIVE_STATUSES):
            raise Conflict(
                f"Training job {job.pk} is already {was}; only pending, queued or "
                "running jobs can be cancelled.",
                code="invalid_transition",
            )
        job.transition_to(JobStatus.CANCELLED)
        job.cancel_requested = True
        job.save(update_fields=["status", "finished_at", "cancel_requested"])
    logger.info("Cancelled training job %s (was %s)", job.pk, was)
    return job


def _locked_job(*, org, job_id: str) -> TrainingJob:
    return TrainingJob.objects.select_for_update().get_for_org(
        org, label="training job", pk=job_id
    )


# ---------------------------------------------------------------------------
# Worker side: progress and final states


def training_job_start(*, job_id: str) -> TrainingJob | None:
    """Move a queued job to ``running`` for an executor, or return None.

    A job that is already running was delivered twice (a worker died or the
    queue retried): it is marked failed instead of being run a second time.
    A cancelled or finished job is left as it is.
    """
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("Training job %s no longer exists; nothing to run", job_id)
            return None
        if job.status == JobStatus.RUNNING:
            job.transition_to(JobStatus.FAILED)
            job.error = (
                "The job was delivered to a worker again while it was marked "
                "running, so an earlier worker stopped before finishing it; "
                "launch a new job."
            )
            job.save(update_fields=["status", "finished_at", "error"])
            logger.warning("Training job %s was delivered twice; marked failed", job_id)
            return None
        if job.status != JobStatus.QUEUED:
            logger.info("Training job %s is %s; not running it", job_id, job.status)
            return None
        job.transition_to(JobStatus.RUNNING)
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    logger.info("Training job %s is running", job_id)
    return job


def training_job_report(
    *,
    job_id: str,
    epochs: list[dict[str, Any]] | None = None,
    logs: str | None = None,
) -> TrainingJob | None:
    """Append epoch events and the log tail to a running job, and heartbeat.

    Returns the job as stored, or None when it is no longer running (for
    example cancelled), in which case nothing is written and the caller
    should stop the trainer.
    """
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING or job.cancel_requested:
            return None

        fields = ["heartbeat_at"]
        job.heartbeat_at = timezone.now()
        if epochs:
            job.metrics = [*job.metrics, *(_metrics_entry(event) for event in epochs)]
            last = epochs[-1]
            job.latest_metrics = job.metrics[-1]
            job.current_epoch = int(last["epoch"])
            job.total_epochs = int(last["epochs"])
            job.progress = float(last.get("progress", 0.0))
            fields += [
                "metrics",
                "latest_metrics",
                "current_epoch",
                "total_epochs",
                "progress",
            ]
        if logs is not None:
            job.logs = logs
            fields.append("logs")
        job.save(update_fields=fields)
    return job


def _metrics_entry(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "epoch": event["epoch"],
        "loss": event.get("loss"),
        "val_loss": event.get("val_loss"),
        "at": timezone.now().isoformat(),
    }


def training_job_succeed(
    *,
    job_id: str,
    artifact_key: str,
    artifact_sha256: str,
    artifact_size: int,
    final_metrics: dict[str, Any],
    logs: str,
) -> TrainingJob | None:
    """Mark a running job succeeded with its artifact, or return None.

    Returns None, changing nothing, when the job is no longer running (it was
    cancelled while the trainer finished); the caller then deletes the
    artifact.
    """
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING:
            return None
        job.transition_to(JobStatus.SUCCEEDED)
        job.artifact_key = artifact_key
        job.artifact_sha256 = artifact_sha256
        job.artifact_size = artifact_size
        job.progress = 1.0
        job.latest_metrics = {**job.latest_metrics, **final_metrics}
        job.logs = logs
        job.save(
            update_fields=[
                "status",
                "finished_at",
                "artifact_key",
                "artifact_sha256",
                "artifact_size",
                "progress",
                "latest_metrics",
                "logs",
            ]
        )
    logger.info("Training job %s succeeded with artifact %s", job_id, artifact_key)
    return job


def training_job_fail(*, job_id: str, message: str, logs: str | None = None) -> bool:
    """Mark a queued or running job failed with ``message``.

    Returns False, changing nothing, when the job is already finished (for
    example cancelled while it ran).
    """
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in ACTIVE_STATUSES:
            return False
        job.transition_to(JobStatus.FAILED)
        job.error = message
        fields = ["status", "finished_at", "error"]
        if logs is not None:
            job.logs = logs
            fields.append("logs")
        job.save(update_fields=fields)
    logger.warning("Training job %s failed: %s", job_id, message)
    return True


def training_job_finish_cancel(*, job_id: str, logs: str | None = None) -> None:
    """Store the final log tail of a job whose cancellation stopped its trainer."""
    if logs is not None:
        TrainingJob.objects.filter(pk=job_id).update(logs=logs)
    logger.info("Stopped the trainer of cancelled training job %s", job_id)


def training_job_fail_stale(*, org=None, now=None) -> list[str]:
    """Fail running jobs whose worker stopped reporting, and return their ids.

    A running job's executor writes ``heartbeat_at`` every few seconds; a job
    whose heartbeat is older than ``CENTEROS_TRAINING_STALE_SECONDS`` lost its
    worker. With ``org`` only that organisation's jobs are checked.
    """
    now = now or timezone.now()
    stale_seconds = settings.CENTEROS_TRAINING_STALE_SECONDS
    cutoff = now - timedelta(seconds=stale_seconds)
    jobs = (
        TrainingJob.objects.all() if org is None else TrainingJob.objects.for_org(org)
    )
    candidates = list(
        jobs.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )

    failed = []
    for job_id in candidates:
        with transaction.atomic():
            # Checked again under the lock: the worker may have reported since.
            job = TrainingJob.objects.select_for_update().get(pk=job_id)
            if job.status != JobStatus.RUNNING or job.heartbeat_at >= cutoff:
                continue
            job.transition_to(JobStatus.FAILED)
            job.error = (
                "The worker stopped reporting progress: no heartbeat since "
                f"{job.heartbeat_at.isoformat()}, more than {stale_seconds} seconds "
                "ago, so the worker process probably died; launch a new job."
            )
            job.save(update_fields=["status", "finished_at", "error"])
        logger.warning("Training job %s failed: its worker stopped reporting", job_id)
        failed.append(job_id)
    return failed


# ---------------------------------------------------------------------------
# Cost estimate


def training_cost_estimate(
    *,
    org,
    dataset_ids: list[int] | None = None,
    job_id: str | None = None,
    model_type: str | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    gpu_type: str | None = None,
    gpu_count: int | None = None,
    provider: str | None = None,
    base_model: str | None = None,
) -> dict[str, Any]:
    """Estimate a run's GPU hours and price, with every input of the formula.

    The data sizes come from ``dataset_ids`` or from the job ``job_id`` (not
    both); a job also supplies defaults for the model type, base model,
    epochs and compute settings, which explicit params override. Without
    either, the estimate has no data and needs ``steps``. Raises InvalidInput
    for unknown names or inconsistent values, NotFound for ids outside
    ``org`` and Conflict for datasets that are not ready.
    """
    if dataset_ids is not None and job_id is not None:
        raise InvalidInput(
            "Give dataset_ids or job_id, not both: a job already names its datasets.",
            errors={"job_id": ["Give either dataset_ids or job_id."]},
        )

    # Defaults from the job, then from the catalog.
    source = "params"
    datasets: list[Dataset] = []
    if job_id is not None:
        job = TrainingJob.objects.prefetch_related("datasets").get_for_org(
            org, label="training job", pk=job_id
        )
        datasets = list(job.datasets.all())
        model_type = model_type or job.model_type
        base_model = base_model or job.base_model or None
        if epochs is None and steps is None:
            epochs = job.hyperparameters.get("epochs")
        gpu_type = gpu_type or job.compute.get("gpu_type")
        gpu_count = gpu_count or job.compute.get("gpu_count") or None
        source = f"training job {job.pk}"
    elif dataset_ids is not None:
        datasets = datasets_for_training(org=org, dataset_ids=dataset_ids)

    data = catalog.load_catalog()
    providers = list(data["gpu_prices"]["providers"])
    inputs = {
        "dataset_ids": [dataset.pk for dataset in datasets],
        "job_id": job_id,
        "defaults_from": source,
        "model_type": model_type or BUILTIN_MODEL_TYPE,
        "base_model": base_model,
        "epochs": epochs,
        "steps": steps,
        "gpu_type": gpu_type or data["cost_model"]["reference_gpu"],
        "gpu_count": gpu_count or 1,
        "provider": provider or providers[0],
        "dataset_bytes": sum(dataset.size_bytes or 0 for dataset in datasets),
        "episodes": sum(dataset.episode_count or 0 for dataset in datasets),
        "frames": sum(dataset.frame_count or 0 for dataset in datasets),
    }

    try:
        estimate = estimate_cost(
            dataset_bytes=inputs["dataset_bytes"],
            episodes=inputs["episodes"],
            frames=inputs["frames"],
            model_type=inputs["model_type"],
            epochs=inputs["epochs"],
            steps=inputs["steps"],
            gpu_type=inputs["gpu_type"],
            gpu_count=inputs["gpu_count"],
            provider=inputs["provider"],
            base_model=inputs["base_model"],
        )
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_estimate") from error
    return {"inputs": inputs, **estimate}


# ---------------------------------------------------------------------------
# Dataset deletion guard


def dataset_deletion_blocker(dataset: Dataset) -> str | None:
    """Return why ``dataset`` cannot be deleted, or None when it can.

    A dataset that a queued or running job trains on must stay until the job
    finishes or is cancelled.
    """
    job = (
        TrainingJob.objects.filter(datasets=dataset, status__in=ACTIVE_STATUSES)
        .only("pk", "status")
        .order_by("created_at")
        .first()
    )
    if job is None:
        return None
    return (
        f"Dataset {dataset.pk} is used by training job {job.pk}, which is "
        f"{job.status}; cancel the job or wait until it finishes, then delete "
        "the dataset."
    )
