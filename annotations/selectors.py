"""Read-side queries of annotation tasks and their quality metrics."""

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotations.choices import ReviewDecision, TaskStatus
from annotations.models import AnnotationReview, AnnotationTask
from datasets.models import Dataset
from orgs.models import Organization


def _dataset_or_raise(*, org: Organization, dataset_id: int) -> Dataset:
    return Dataset.objects.get_for_org(org, label="dataset", pk=dataset_id)


def annotation_task_list(
    *,
    org: Organization,
    status: str | None = None,
    assignee: int | str | None = None,
    priority: str | None = None,
    dataset_id: int | None = None,
    search: str | None = None,
) -> QuerySet[AnnotationTask]:
    """Return the tasks of ``org`` that match every filter given.

    ``assignee`` is a user id (int) or a username (str). ``search`` matches
    the title or the description, case-insensitively. Raises NotFound when
    ``dataset_id`` names no dataset of ``org``. The queryset carries the
    joins and the review count that serializing a task needs, so a page
    costs a fixed number of queries.
    """
    queryset = AnnotationTask.objects.for_org(org)

    if status:
        queryset = queryset.filter(status=status)
    if isinstance(assignee, int):
        queryset = queryset.filter(assignee_id=assignee)
    elif isinstance(assignee, str):
        queryset = queryset.filter(assignee__username=assignee)
    if priority:
        queryset = queryset.filter(priority=priority)
    if dataset_id is not None:
        dataset = _dataset_or_raise(org=org, dataset_id=dataset_id)
        queryset = queryset.filter(dataset=dataset)
    if search:
        queryset = queryset.filter(
            Q(title__icontains=search) | Q(description__icontains=search)
        )

    # A correlated subquery rather than Count("reviews"): a join with GROUP BY
    # would group by every selected column and drop the model's ordering.
    review_count = (
        AnnotationReview.objects.filter(task=OuterRef("pk"))
        .order_by()
        .values("task")
        .annotate(count=Count("id"))
        .values("count")
    )
    return (
        queryset.select_related("dataset", "assignee", "created_by")
        .annotate(review_count=Coalesce(Subquery(review_count), 0))
        .order_by("-created_at", "-id")
    )


def annotation_metrics(*, org: Organization, dataset_id: int | None = None) -> dict:
    """Return the quality metrics of the tasks of ``org``.

    The pass rate is approved reviews divided by all reviews, so a task
    rejected once and approved after rework counts one of each. It is None
    when there are no reviews. Every status appears in the distribution,
    with 0 when no task has it. Raises NotFound when ``dataset_id`` names no
    dataset of ``org``.
    """
    tasks = AnnotationTask.objects.for_org(org)
    reviews = AnnotationReview.objects.filter(task__org=org)
    if dataset_id is not None:
        dataset = _dataset_or_raise(org=org, dataset_id=dataset_id)
        tasks = tasks.filter(dataset=dataset)
        reviews = reviews.filter(task__dataset=dataset)

    # Step 1: tasks per status, with every status present.
    status_distribution = {status: 0 for status in TaskStatus.values}
    by_status = tasks.order_by().values("status").annotate(count=Count("id"))
    for row in by_status:
        status_distribution[row["status"]] = row["count"]

    # Step 2: review counts and the pass rate.
    review_counts = reviews.order_by().aggregate(
        total=Count("id"),
        approved=Count("id", filter=Q(decision=ReviewDecision.APPROVED)),
        rejected=Count("id", filter=Q(decision=ReviewDecision.REJECTED)),
    )
    total_reviews = review_counts["total"]
    pass_rate = review_counts["approved"] / total_reviews if total_reviews else None

    # Step 3: tasks per assignee; unassigned tasks are counted apart.
    per_assignee = (
        tasks.filter(assignee__isnull=False)
        .order_by()
        .values("assignee_id", "assignee__username")
        .annotate(
            tasks=Count("id"),
            approved=Count("id", filter=Q(status=TaskStatus.APPROVED)),
        )
        .order_by("-tasks", "assignee__username")
    )
    tasks_per_assignee = [
        {
            "user_id": row["assignee_id"],
            "username": row["assignee__username"],
            "tasks": row["tasks"],
            "approved": row["approved"],
        }
        for row in per_assignee
    ]

    total_tasks = sum(status_distribution.values())
    assigned_tasks = sum(row["tasks"] for row in tasks_per_assignee)
    return {
        "dataset_id": dataset_id,
        "total_tasks": total_tasks,
        "status_distribution": status_distribution,
        "reviews": review_counts,
        "pass_rate": pass_rate,
        "tasks_per_assignee": tasks_per_assignee,
        "unassigned_tasks": total_tasks - assigned_tasks,
    }
