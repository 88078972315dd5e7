"""Read-side queries of training jobs."""

from django.db.models import Prefetch, QuerySet

from datasets.models import Dataset
from training import catalog
from training.models import TrainingJob


def training_job_list(
    *, org, status: str | None = None, model_type: str | None = None
) -> QuerySet[TrainingJob]:
    """Return the jobs of ``org``, newest first, without their history and logs.

    ``model_type`` may be an alias (``bc`` finds ``bc_mlp`` jobs).
    """
    jobs = (
        TrainingJob.objects.for_org(org)
        .defer("metrics", "logs")
        .prefetch_related(Prefetch("datasets", queryset=Dataset.objects.only("pk")))
        .order_by("-created_at", "-pk")
    )
    if status:
        jobs = jobs.filter(status=status)
    if model_type:
        jobs = jobs.filter(
            model_type=catalog.resolve_model_type(model_type) or model_type
        )
    return jobs


def training_job_get(*, org, job_id: str) -> TrainingJob:
    """Return one job of ``org`` with its dataset ids, or raise NotFound."""
    return TrainingJob.objects.prefetch_related(
        Prefetch("datasets", queryset=Dataset.objects.only("pk"))
    ).get_for_org(org, label="training job", pk=job_id)
