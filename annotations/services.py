"""Write-side rules of annotation tasks: creation, assignment, submit, review.

Every status change locks the task row with ``select_for_update`` before it
checks the current status, so of two concurrent requests for the same
transition exactly one wins and the other gets a 409.
"""

import logging

from django.db import transaction

from annotations.choices import DataType, ReviewDecision, TaskPriority, TaskStatus
from annotations.models import AnnotationReview, AnnotationTask
from centeros.errors import InvalidInput
from datasets.models import Dataset
from orgs.models import Membership, Organization, User

logger = logging.getLogger(__name__)

UNTITLED_TASK = "Untitled task"
TITLE_MAX_LENGTH = AnnotationTask._meta.get_field("title").max_length


def _member_or_raise(*, org: Organization, user_id: int, field: str) -> User:
    """Return the user ``user_id`` when they are a member of ``org``.

    A user outside the organisation is a 400 rather than a 404: the task
    exists, the chosen person is the invalid part of the request.
    """
    membership = (
        Membership.objects.filter(org=org, user_id=user_id, user__is_active=True)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise InvalidInput(
            f"User {user_id} is not an active member of {org.name}; choose a "
            "member of this organisation (list_org_members lists them).",
            code="assignee_not_member",
            errors={field: [f"User {user_id} is not a member of this organisation."]},
        )
    return membership.user


def _default_title(dataset: Dataset | None) -> str:
    if dataset is None:
        return UNTITLED_TASK
    return f"Annotate {dataset.name}"[:TITLE_MAX_LENGTH]


def _lock_task(*, org: Organization, task_id: int) -> AnnotationTask:
    """Return the task locked for update; another org's task is a 404."""
    return AnnotationTask.objects.select_for_update().get_for_org(
        org, label="annotation task", pk=task_id
    )


@transaction.atomic
def annotation_task_create(
    *,
    org: Organization,
    created_by: User | None,
    title: str | None = None,
    description: str = "",
    dataset_id: int | None = None,
    data_type: str = DataType.EPISODE,
    priority: str = TaskPriority.MEDIUM,
    assignee_id: int | None = None,
    labels: dict | None = None,
) -> AnnotationTask:
    """Create an ``open`` task in ``org``.

    A blank or missing title becomes "Annotate <dataset name>", or
    "Untitled task" without a dataset. Raises NotFound when ``dataset_id``
    names no dataset of ``org`` and InvalidInput when ``assignee_id`` is not
    an active member of ``org``. An assignee given here does not start the
    task; it stays ``open`` until assigned or submitted.
    """
    dataset = None
    if dataset_id is not None:
        dataset = Dataset.objects.get_for_org(org, label="dataset", pk=dataset_id)

    assignee = None
    if assignee_id is not None:
        assignee = _member_or_raise(org=org, user_id=assignee_id, field="assignee_id")

    title = (title or "").strip() or _default_title(dataset)
    task = AnnotationTask.objects.create(
        org=org,
        title=title,
        description=description,
        dataset=dataset,
        data_type=data_type,
        priority=priority,
        assignee=assignee,
        labels=labels or {},
        created_by=created_by,
    )
    logger.info(
        "Created annotation task %s in org %s (dataset %s, assignee %s)",
        task.pk,
        org.pk,
        dataset_id,
        assignee_id,
    )
    return task


@transaction.atomic
def annotation_task_assign(
    *, org: Organization, task_id: int, assignee_id: int
) -> AnnotationTask:
    """Assign a task and move it to ``in_progress``.

    Allowed from ``open`` (first assignment) and ``rejected`` (rework).
    Raises InvalidInput when the assignee is not an active member of ``org``
    and Conflict (409) from any other status.
    """
    task = _lock_task(org=org, task_id=task_id)
    assignee = _member_or_raise(org=org, user_id=assignee_id, field="assignee_id")

    previous = task.status
    task.transition_to(TaskStatus.IN_PROGRESS)
    task.assignee = assignee
    task.save(update_fields=["status", "assignee", "updated_at"])
    logger.info(
        "Assigned annotation task %s to user %s (%s -> %s)",
        task.pk,
        assignee.pk,
        previous,
        task.status,
    )
    return task


@transaction.atomic
def annotation_task_submit(
    *, org: Organization, task_id: int, submitted_by: User
) -> AnnotationTask:
    """Submit a task for review: ``in_progress`` → ``in_review``.

    An ``open`` task is started on the way (``open`` → ``in_progress`` →
    ``in_review``) and, when it has no assignee, is assigned to the submitter,
    so work done without an assign step can still be submitted. Raises
    Conflict (409) from ``in_review``, ``approved`` and ``rejected``; a
    rejected task is reworked through assign first.
    """
    task = _lock_task(org=org, task_id=task_id)

    previous = task.status
    update_fields = ["status", "submitted_at", "updated_at"]
    if task.status == TaskStatus.OPEN:
        task.transition_to(TaskStatus.IN_PROGRESS)
        if task.assignee_id is None:
            task.assignee = submitted_by
            update_fields.append("assignee")
    task.transition_to(TaskStatus.IN_REVIEW)
    task.save(update_fields=update_fields)
    logger.info(
        "User %s submitted annotation task %s (%s -> %s)",
        submitted_by.pk,
        task.pk,
        previous,
        task.status,
    )
    return task


@transaction.atomic
def annotation_task_review(
    *,
    org: Organization,
    task_id: int,
    reviewer: User,
    decision: str,
    comment: str = "",
) -> tuple[AnnotationTask, AnnotationReview]:
    """Approve or reject a task in review and record the review.

    ``in_review`` → ``approved`` | ``rejected``. A rejection needs a comment
    that explains what to fix (InvalidInput otherwise). Raises
    Conflict (409) when the task is not in review.
    """
    if decision not in ReviewDecision.values:
        raise InvalidInput(
            f"Unknown decision {decision!r}; use one of "
            f"{', '.join(ReviewDecision.values)}.",
            errors={"decision": [f"Unknown decision {decision!r}."]},
        )
    comment = comment.strip()
    if decision == ReviewDecision.REJECTED and not comment:
        raise InvalidInput(
            "A rejection needs a comment that explains what to fix; add one.",
            errors={"comment": ["Required when the decision is rejected."]},
        )

    task = _lock_task(org=org, task_id=task_id)
    task.transition_to(decision)
    task.save(update_fields=["status", "updated_at"])
    review = AnnotationReview.objects.create(
        task=task, reviewer=reviewer, decision=decision, comment=comment
    )
    logger.info(
        "User %s %s annotation task %s (review %s)",
        reviewer.pk,
        decision,
        task.pk,
        review.pk,
    )
    return task, review
