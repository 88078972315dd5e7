"""Actions of the models and evaluations categories."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    ActionParams,
    JSONObjectField,
    PaginationParams,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    object_id_field,
)
from models_registry import selectors, services
from models_registry.choices import EvaluationStatus, ModelStatus
from models_registry.models import Evaluation, ModelTransition, ModelVersion

MAX_TEXT_LENGTH = 10_000


def _iso(value):
    return value.isoformat() if value else None


def _username(user) -> str | None:
    return user.username if user is not None else None


def model_data(model_version: ModelVersion) -> dict:
    return {
        "id": model_version.pk,
        "name": model_version.name,
        "version": model_version.version,
        "status": model_version.status,
        "description": model_version.description,
        "model_type": model_version.model_type,
        "training_job_id": model_version.training_job_id,
        "artifact_uri": model_version.artifact_uri,
        "artifact_sha256": model_version.artifact_sha256,
        "artifact_size": model_version.artifact_size,
        "metrics": model_version.metrics,
        "tags": model_version.tags,
        "created_by": _username(model_version.created_by),
        "created_at": _iso(model_version.created_at),
        "updated_at": _iso(model_version.updated_at),
    }


def transition_data(transition: ModelTransition) -> dict:
    return {
        "from_status": transition.from_status,
        "to_status": transition.to_status,
        "reason": transition.reason,
        "changed_by": _username(transition.changed_by),
        "changed_at": _iso(transition.created_at),
    }


def evaluation_data(evaluation: Evaluation) -> dict:
    model_version = evaluation.model_version
    return {
        "id": evaluation.pk,
        "model_id": model_version.pk,
        "model_name": model_version.name,
        "model_version": model_version.version,
        "name": evaluation.name,
        "dataset_id": evaluation.dataset_id,
        "environment": evaluation.environment,
        "status": evaluation.status,
        "metrics": evaluation.metrics,
        "passed": evaluation.passed,
        "notes": evaluation.notes,
        "created_by": _username(evaluation.created_by),
        "created_at": _iso(evaluation.created_at),
        "completed_at": _iso(evaluation.completed_at),
    }


def _training_job_data(job) -> dict | None:
    if job is None:
        return None
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "model_type": job.model_type,
        "mode": job.mode,
        "base_model": job.base_model,
        "hyperparameters": job.hyperparameters,
        "final_metrics": job.latest_metrics,
        "total_epochs": job.total_epochs,
        "artifact_key": job.artifact_key,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }


def _dataset_data(dataset) -> dict:
    return {
        "id": dataset.pk,
        "name": dataset.name,
        "status": dataset.status,
        "file_type": dataset.file_type,
        "sha256": dataset.sha256,
        "size_bytes": dataset.size_bytes,
        "episode_count": dataset.episode_count,
        "frame_count": dataset.frame_count,
    }


def _deployment_data(deployment) -> dict:
    return {
        "id": deployment.pk,
        "robot_id": deployment.robot.robot_id,
        "robot_name": deployment.robot.name,
        "status": deployment.status,
        "strategy": deployment.strategy,
        "created_at": _iso(deployment.created_at),
        "finished_at": _iso(deployment.finished_at),
    }


def lineage_data(model_version: ModelVersion) -> dict:
    job = model_version.training_job
    datasets = list(job.datasets.all()) if job is not None else []
    return {
        "model": model_data(model_version),
        "transitions": [transition_data(t) for t in model_version.transitions.all()],
        "training_job": _training_job_data(job),
        "datasets": [_dataset_data(d) for d in datasets],
        "deployments": [_deployment_data(d) for d in model_version.deployments.all()],
        "evaluations": [evaluation_data(e) for e in model_version.evaluations.all()],
    }


# ---------------------------------------------------------------------------
# models


class ListModelsParams(PaginationParams):
    status = StrictChoiceField(
        choices=ModelStatus.values, required=False, help_text="Only this status."
    )
    name = StrictCharField(
        required=False, max_length=200, help_text="Only versions of this model name."
    )
    search = StrictCharField(
        required=False,
        max_length=200,
        help_text="Text to find in the model name or description, ignoring case.",
    )


@action(
    name="list_models",
    category="models",
    description="List model versions with optional status and name filters.",
    scopes=["models:read"],
    risk=Risk.READ,
    params=ListModelsParams,
)
def list_models(context, params):
    queryset = selectors.model_version_list(
        org=context.org,
        status=params.get("status"),
        name=params.get("name"),
        search=params.get("search"),
    )
    return paginate(queryset, params, model_data)


training_job_id_validator = RegexValidator(
    r"\A[0-9a-f]{12}\Z",
    message="Must be a training job id: 12 lowercase hexadecimal characters.",
)


class RegisterModelParams(ActionParams):
    name = StrictCharField(
        max_length=200,
        help_text="Model name. Versions are numbered 1, 2, 3 per name.",
    )
    training_job_id = StrictCharField(
        required=False,
        validators=[training_job_id_validator],
        help_text="Id of the succeeded training job that produced the model.",
    )
    artifact_uri = StrictCharField(
        required=False,
        max_length=1000,
        help_text="Where the weights are stored. Defaults to the job's artifact.",
    )
    model_type = StrictCharField(
        required=False,
        max_length=64,
        help_text="Model type such as 'bc_mlp'. Defaults to the job's.",
    )
    description = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        default="",
        help_text="What the version is for and how it differs from others.",
    )
    metrics = JSONObjectField(
        required=False, help_text="Metrics to keep with the version."
    )
    tags = serializers.ListField(
        child=StrictCharField(max_length=50),
        required=False,
        max_length=50,
        help_text="Labels such as 'sim' or 'candidate'.",
    )


@action(
    name="register_model",
    category="models",
    description="Register a new model version in the model registry.",
    scopes=["models:write"],
    risk=Risk.WRITE,
    params=RegisterModelParams,
)
def register_model(context, params):
    model_version = services.model_version_register(
        org=context.org,
        user=context.user,
        name=params["name"],
        training_job_id=params.get("training_job_id"),
        artifact_uri=params.get("artifact_uri", ""),
        model_type=params.get("model_type", ""),
        description=params["description"],
        metrics=params.get("metrics"),
        tags=params.get("tags"),
    )
    return model_data(model_version)


class PromoteModelParams(ActionParams):
    model_id = object_id_field("model version")
    target_status = StrictChoiceField(
        choices=ModelStatus.values, help_text="The status to move the version to."
    )
    reason = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text="Why the version moves, kept in its history.",
    )


@action(
    name="promote_model",
    category="models",
    description=(
        "Promote a model through lifecycle stages: "
        "draft → validated → deployed → retired."
    ),
    scopes=["models:write"],
    risk=Risk.WRITE,
    params=PromoteModelParams,
)
def promote_model(context, params):
    model_version = services.model_version_promote(
        org=context.org,
        model_version_id=params["model_id"],
        target_status=params["target_status"],
        user=context.user,
        reason=params["reason"],
    )
    return model_data(model_version)


class ModelIdParams(ActionParams):
    model_id = object_id_field("model version")


@action(
    name="get_model_lineage",
    category="models",
    description="Get full lineage: training job, datasets, deployments, evaluations.",
    scopes=["models:read"],
    risk=Risk.READ,
    params=ModelIdParams,
)
def get_model_lineage(context, params):
    model_version = selectors.model_version_lineage(
        org=context.org, model_version_id=params["model_id"]
    )
    return lineage_data(model_version)


# ---------------------------------------------------------------------------
# evaluations


class ListEvaluationsParams(PaginationParams):
    model_id = object_id_field("model version", required=False)
    status = StrictChoiceField(
        choices=EvaluationStatus.values, required=False, help_text="Only this status."
    )
    passed = StrictBooleanField(
        required=False, help_text="Only evaluations with this verdict."
    )


@action(
    name="list_evaluations",
    category="evaluations",
    description="List evaluations of model versions, optionally for one model.",
    scopes=["models:read"],
    risk=Risk.READ,
    params=ListEvaluationsParams,
)
def list_evaluations(context, params):
    model_version = None
    if "model_id" in params:
        model_version = selectors.model_version_get(
            org=context.org, model_version_id=params["model_id"]
        )
    queryset = selectors.evaluation_list(
        org=context.org,
        model_version=model_version,
        status=params.get("status"),
        passed=params.get("passed"),
    )
    return paginate(queryset, params, evaluation_data)


class EvaluationIdParams(ActionParams):
    evaluation_id = object_id_field("evaluation")


@action(
    name="get_evaluation",
    category="evaluations",
    description="Get one evaluation with its metrics and verdict.",
    scopes=["models:read"],
    risk=Risk.READ,
    params=EvaluationIdParams,
)
def get_evaluation(context, params):
    evaluation = selectors.evaluation_get(
        org=context.org, evaluation_id=params["evaluation_id"]
    )
    return evaluation_data(evaluation)


class CreateEvaluationParams(ActionParams):
    model_id = object_id_field("model version")
    name = StrictCharField(max_length=200, help_text="Name of the evaluation run.")
    dataset_id = object_id_field(
        "dataset", required=False, help_text="Id of a ready dataset evaluated on."
    )
    environment = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        default="",
        help_text="Where it runs, such as 'sim:pick-cube' or 'lab-1'.",
    )
    notes = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        default="",
        help_text="Free text kept with the evaluation.",
    )


@action(
    name="create_evaluation",
    category="evaluations",
    description="Create a pending evaluation of a model version.",
    scopes=["models:write"],
    risk=Risk.WRITE,
    params=CreateEvaluationParams,
)
def create_evaluation(context, params):
    evaluation = services.evaluation_create(
        org=context.org,
        user=context.user,
        model_version_id=params["model_id"],
        name=params["name"],
        dataset_id=params.get("dataset_id"),
        environment=params["environment"],
        notes=params["notes"],
    )
    return evaluation_data(evaluation)


class RecordEvaluationResultParams(ActionParams):
    evaluation_id = object_id_field("evaluation")
    metrics = JSONObjectField(help_text="Measured metrics, such as success_rate.")
    passed = StrictBooleanField(help_text="Whether the model passed the evaluation.")
    notes = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        help_text="Replaces the evaluation's notes when given.",
    )


@action(
    name="record_evaluation_result",
    category="evaluations",
    description="Record the metrics and verdict of a pending evaluation.",
    scopes=["models:write"],
    risk=Risk.WRITE,
    params=RecordEvaluationResultParams,
)
def record_evaluation_result(context, params):
    evaluation = services.evaluation_record_result(
        org=context.org,
        evaluation_id=params["evaluation_id"],
        metrics=params["metrics"],
        passed=params["passed"],
        notes=params.get("notes"),
    )
    return evaluation_data(evaluation)
