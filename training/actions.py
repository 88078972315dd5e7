"""Actions of the training category: jobs, launch, cancel, catalog and costs."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    ActionParams,
    JSONObjectField,
    NoParams,
    PaginationParams,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
    StrictIntegerField,
    object_id_field,
)
from centeros.errors import Conflict
from datasets.storage import download_url_sign
from training import catalog, selectors, services
from training.choices import JobMode, JobStatus
from training.costs import MAX_GPU_COUNT as MAX_ESTIMATE_GPU_COUNT
from training.models import TrainingJob

# A year: longer runs are almost certainly a unit mistake.
MAX_COMPUTE_HOURS = 8760.0


def _iso(value):
    return value.isoformat() if value else None


def training_job_data(job: TrainingJob) -> dict:
    """Return the summary of a job that list actions show."""
    return {
        "id": job.pk,
        "name": job.name,
        "status": job.status,
        "model_type": job.model_type,
        "mode": job.mode,
        "base_model": job.base_model or None,
        "dataset_ids": sorted(dataset.pk for dataset in job.datasets.all()),
        "hyperparameters": job.hyperparameters,
        "compute": job.compute,
        "executor": job.executor,
        "progress": job.progress,
        "current_epoch": job.current_epoch,
        "total_epochs": job.total_epochs,
        "latest_metrics": job.latest_metrics,
        "error": job.error or None,
        "artifact": _artifact_data(job),
        "cancel_requested": job.cancel_requested,
        "created_at": _iso(job.created_at),
        "queued_at": _iso(job.queued_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def training_job_status_data(job: TrainingJob) -> dict:
    """Return a job's details with its per-epoch metric history."""
    return training_job_data(job) | {
        "metrics": job.metrics,
        "heartbeat_at": _iso(job.heartbeat_at),
        "task_result_id": job.task_result_id or None,
    }


def _artifact_data(job: TrainingJob) -> dict | None:
    if not job.artifact_key:
        return None
    return {
        "key": job.artifact_key,
        "sha256": job.artifact_sha256,
        "size_bytes": job.artifact_size,
    }


class JobIdField(StrictCharField):
    """A training job id: 12 hexadecimal characters."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Id of the training job (12 hex characters).")
        super().__init__(
            min_length=12,
            max_length=12,
            validators=[
                RegexValidator(
                    r"^[0-9a-fA-F]{12}\Z",
                    message="Must be 12 hexadecimal characters, like 'abc123def456'.",
                )
            ],
            **kwargs,
        )

    def to_internal_value(self, data):
        return super().to_internal_value(data).lower()


def dataset_ids_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=object_id_field("dataset"),
        min_length=1,
        max_length=services.MAX_DATASETS_PER_JOB,
        **kwargs,
    )


class ListTrainingJobsParams(PaginationParams):
    status = StrictChoiceField(
        choices=JobStatus.values, required=False, help_text="Only jobs in this status."
    )
    model_type = StrictCharField(
        required=False, max_length=64, help_text="Only jobs of this model type."
    )


@action(
    name="list_training_jobs",
    category="training",
    description="List training jobs with optional status and model type filters.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=ListTrainingJobsParams,
)
def list_training_jobs(context, params):
    services.training_job_fail_stale(org=context.org)
    jobs = selectors.training_job_list(
        org=context.org,
        status=params.get("status"),
        model_type=params.get("model_type"),
    )
    return paginate(jobs, params, training_job_data)


class ComputeParams(ActionParams):
    default_error_messages = {"invalid": "Must be a JSON object."}

    gpu_type = StrictCharField(
        required=False, max_length=32, help_text="GPU type, for example 'A100-80GB'."
    )
    gpu_count = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=services.MAX_GPU_COUNT,
        help_text=f"GPUs to use (0 to {services.MAX_GPU_COUNT}; 0 runs on the CPU).",
    )
    max_hours = StrictFloatField(
        required=False,
        max_value=MAX_COMPUTE_HOURS,
        help_text="Wall-clock limit in hours; the job fails when it runs longer.",
    )

    def validate_max_hours(self, value):
        if value <= 0:
            raise serializers.ValidationError("Must be greater than 0.")
        return value


class CreateTrainingJobParams(ActionParams):
    dataset_ids = dataset_ids_field(help_text="Ids of ready datasets to train on.")
    name = StrictCharField(
        required=False, max_length=200, help_text="Job name; generated when omitted."
    )
    model_type = StrictCharField(
        required=False,
        max_length=64,
        help_text="Model type, for example bc_mlp (default) or act.",
    )
    mode = StrictChoiceField(
        choices=JobMode.values,
        required=False,
        default=JobMode.TRAIN,
        help_text="'train' from scratch or 'finetune' a base model.",
    )
    base_model = StrictCharField(
        required=False,
        max_length=100,
        help_text="Catalog base model to fine-tune; required for mode 'finetune'.",
    )
    hyperparameters = JSONObjectField(
        required=False,
        max_keys=50,
        help_text="Training settings: epochs (1 to 10000), batch_size, "
        "learning_rate, hidden_sizes, seed, validation_split (0 to 0.5).",
    )
    compute = ComputeParams(
        required=False, help_text="gpu_type, gpu_count (0 to 64) and max_hours."
    )


@action(
    name="create_training_job",
    category="training",
    description="Create a new training or fine-tuning job from one or more datasets.",
    scopes=["training:write"],
    risk=Risk.WRITE,
    params=CreateTrainingJobParams,
)
def create_training_job(context, params):
    job = services.training_job_create(
        org=context.org,
        user=context.user,
        dataset_ids=params["dataset_ids"],
        name=params.get("name"),
        model_type=params.get("model_type"),
        mode=params["mode"],
        base_model=params.get("base_model"),
        hyperparameters=params.get("hyperparameters"),
        compute=dict(params.get("compute") or {}),
    )
    return training_job_status_data(job)


class JobParams(ActionParams):
    job_id = JobIdField()


@action(
    name="get_training_status",
    category="training",
    description="Get the current status and details of a training job.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=JobParams,
)
def get_training_status(context, params):
    services.training_job_fail_stale(org=context.org)
    job = selectors.training_job_get(org=context.org, job_id=params["job_id"])
    return training_job_status_data(job)


@action(
    name="launch_training",
    category="training",
    description="Launch a pending training job (transition to running).",
    scopes=["training:write"],
    risk=Risk.WRITE,
    params=JobParams,
)
def launch_training(context, params):
    services.training_job_launch(org=context.org, job_id=params["job_id"])
    job = selectors.training_job_get(org=context.org, job_id=params["job_id"])
    return training_job_status_data(job)


@action(
    name="cancel_training",
    category="training",
    description="Cancel a pending, queued or running training job; a running "
    "job's trainer is stopped.",
    scopes=["training:write"],
    risk=Risk.DESTRUCTIVE,
    params=JobParams,
)
def cancel_training(context, params):
    services.training_job_cancel(org=context.org, job_id=params["job_id"])
    job = selectors.training_job_get(org=context.org, job_id=params["job_id"])
    return training_job_status_data(job)


@action(
    name="get_artifact_download_url",
    category="training",
    description="Get a short-lived signed URL that downloads a training job's "
    "model artifact.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=JobParams,
)
def get_artifact_download_url(context, params):
    job = selectors.training_job_get(org=context.org, job_id=params["job_id"])
    if not job.artifact_key:
        raise Conflict(
            f"Training job {job.pk} is {job.status} and has no artifact; only a "
            "succeeded job has one to download.",
            code="artifact_missing",
        )

    signed = download_url_sign(key=job.artifact_key)
    return {
        "job_id": job.pk,
        "download_url": signed["url"],
        "expires_at": _iso(signed["expires_at"]),
        "artifact": _artifact_data(job),
    }


class TrainingLogsParams(JobParams):
    lines = StrictIntegerField(
        required=False,
        default=services.LOG_TAIL_LINES,
        min_value=1,
        max_value=services.LOG_TAIL_LINES,
        help_text=f"Number of last log lines to return (1 to {services.LOG_TAIL_LINES}).",
    )


@action(
    name="get_training_logs",
    category="training",
    description="Get the last lines of a training job's trainer log.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=TrainingLogsParams,
)
def get_training_logs(context, params):
    job = selectors.training_job_get(org=context.org, job_id=params["job_id"])
    lines = job.logs.splitlines() if job.logs else []
    tail = lines[-params["lines"] :]
    return {
        "job_id": job.pk,
        "status": job.status,
        "lines": tail,
        "line_count": len(tail),
        "truncated": len(lines) > len(tail),
    }


@action(
    name="get_finetune_catalog",
    category="training",
    description="List all supported fine-tuning base model providers and models.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=NoParams,
)
def get_finetune_catalog(context, params):
    return catalog.load_catalog()


class EstimateCostParams(ActionParams):
    dataset_ids = dataset_ids_field(
        required=False,
        help_text="Ready datasets whose size, episodes and frames count.",
    )
    job_id = JobIdField(
        required=False, help_text="A training job whose datasets and settings to use."
    )
    model_type = StrictCharField(required=False, max_length=64, help_text="Model type.")
    epochs = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_EPOCHS,
        help_text="Passes over the data; give epochs or steps.",
    )
    steps = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=10**9,
        help_text="Optimizer steps; give epochs or steps.",
    )
    gpu_type = StrictCharField(required=False, max_length=32, help_text="GPU type.")
    gpu_count = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ESTIMATE_GPU_COUNT,
        help_text="Number of GPUs.",
    )
    provider = StrictCharField(
        required=False, max_length=32, help_text="Cloud provider of the price table."
    )
    base_model = StrictCharField(
        required=False, max_length=100, help_text="Catalog base model to fine-tune."
    )


@action(
    name="estimate_cost",
    category="training",
    description="Estimate the cost of a training run based on datasets and infra.",
    scopes=["training:read"],
    risk=Risk.READ,
    params=EstimateCostParams,
)
def estimate_cost(context, params):
    return services.training_cost_estimate(org=context.org, **params)
