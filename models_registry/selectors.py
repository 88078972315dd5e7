"""Read-side queries of the model registry and evaluations.

Each list selector returns a queryset that already joins or prefetches what
the action's serializer reads, so a page costs the same number of queries
whatever its size.
"""

from django.db.models import Prefetch, Q, QuerySet

from models_registry.models import Evaluation, ModelTransition, ModelVersion
from orgs.models import Organization


def model_version_list(
    *,
    org: Organization,
    status: str | None = None,
    name: str | None = None,
    search: str | None = None,
) -> QuerySet[ModelVersion]:
    """Return the model versions of ``org``, filtered, by name then newest first.

    ``name`` matches the model name exactly, and ``search`` matches a part of the
    name or the description, ignoring case.
    """
    queryset = ModelVersion.objects.for_org(org).select_related("created_by")
    if status:
        queryset = queryset.filter(status=status)
    if name:
        queryset = queryset.filter(name=name)
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(description__icontains=search)
        )
    return queryset.order_by("name", "-version", "-id")


def model_version_lineage(*, org: Organization, model_version_id: int) -> ModelVersion:
    """Return a model version of ``org`` with everything its lineage shows.

    Loads the transitions, the training job with its datasets, the
    deployments with their robots (through the reverse relation that the
    fleet app's Deployment declares) and the evaluations. Raises NotFound
    when the version is not in ``org``.
    """
    queryset = ModelVersion.objects.select_related(
        "created_by", "training_job"
    ).prefetch_related(
        Prefetch(
            "transitions",
            queryset=ModelTransition.objects.select_related("changed_by"),
        ),
        "training_job__datasets",
        "deployments__robot",
        Prefetch(
            "evaluations",
            queryset=Evaluation.objects.select_related(
                "model_version", "dataset", "created_by"
            ),
        ),
    )
    return queryset.get_for_org(org, pk=model_version_id, label="model version")


def evaluation_list(
    *,
    org: Organization,
    model_version: ModelVersion | None = None,
    status: str | None = None,
    passed: bool | None = None,
) -> QuerySet[Evaluation]:
    """Return the evaluations of ``org``, filtered, newest first."""
    queryset = Evaluation.objects.for_org(org).select_related(
        "model_version", "created_by"
    )
    if model_version is not None:
        queryset = queryset.filter(model_version=model_version)
    if status:
        queryset = queryset.filter(status=status)
    if passed is not None:
        queryset = queryset.filter(passed=passed)
    return queryset.order_by("-created_at", "-id")


def evaluation_get(*, org: Organization, evaluation_id: int) -> Evaluation:
    """Return one evaluation of ``org`` or raise NotFound."""
    queryset = Evaluation.objects.select_related("model_version", "created_by")
    return queryset.get_for_org(org, pk=evaluation_id, label="evaluation")


def model_version_get(*, org: Organization, model_version_id: int) -> ModelVersion:
    """Return one model version of ``org`` or raise NotFound."""
    return ModelVersion.objects.get_for_org(
        org, pk=model_version_id, label="model version"
    )
