"""The annotation task state machine and the services that move tasks."""

import itertools

import pytest

from annotations import services
from annotations.choices import TaskStatus
from annotations.models import AnnotationTask
from centeros.errors import Conflict, InvalidInput
from tests.factories import AnnotationTaskFactory, MembershipFactory

ALLOWED = {
    ("open", "in_progress"),
    ("in_progress", "in_review"),
    ("in_review", "approved"),
    ("in_review", "rejected"),
    ("rejected", "in_progress"),
}
ALL_PAIRS = list(itertools.product(TaskStatus.values, TaskStatus.values))


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_allowed_transition(source, target):
    task = AnnotationTask(pk=1, status=source)

    task.transition_to(target)

    assert task.status == target


@pytest.mark.parametrize(
    ("source", "target"), [pair for pair in ALL_PAIRS if pair not in ALLOWED]
)
def test_disallowed_transition_is_conflict(source, target):
    task = AnnotationTask(pk=1, status=source)

    with pytest.raises(Conflict) as raised:
        task.transition_to(target)

    assert raised.value.code == "invalid_transition"
    assert source in raised.value.detail
    assert target in raised.value.detail
    assert task.status == source


def test_transition_table_matches_design():
    table = {
        (source, target)
        for source, targets in AnnotationTask.ALLOWED_TRANSITIONS.items()
        for target in targets
    }

    assert table == ALLOWED


def test_review_status_sets_submitted_at():
    task = AnnotationTask(pk=1, status="in_progress")

    task.transition_to("in_review")

    assert task.submitted_at is not None


def test_unknown_target_is_conflict():
    task = AnnotationTask(pk=1, status="open")

    with pytest.raises(Conflict):
        task.transition_to("archived")


# ---------------------------------------------------------------------------
# Services


@pytest.mark.django_db
@pytest.mark.parametrize("status", TaskStatus.values)
def test_submit_service_from_each_status(org, status):
    user = MembershipFactory(org=org).user
    task = AnnotationTaskFactory(org=org, status=status)
    allowed = status in ("open", "in_progress")

    if allowed:
        services.annotation_task_submit(org=org, task_id=task.pk, submitted_by=user)
    else:
        with pytest.raises(Conflict):
            services.annotation_task_submit(org=org, task_id=task.pk, submitted_by=user)

    task.refresh_from_db()
    assert task.status == ("in_review" if allowed else status)


@pytest.mark.django_db
@pytest.mark.parametrize("status", TaskStatus.values)
def test_assign_service_from_each_status(org, status):
    user = MembershipFactory(org=org).user
    task = AnnotationTaskFactory(org=org, status=status)
    allowed = status in ("open", "rejected")

    if allowed:
        services.annotation_task_assign(org=org, task_id=task.pk, assignee_id=user.pk)
    else:
        with pytest.raises(Conflict):
            services.annotation_task_assign(
                org=org, task_id=task.pk, assignee_id=user.pk
            )

    task.refresh_from_db()
    assert task.status == ("in_progress" if allowed else status)
    assert (task.assignee_id == user.pk) is allowed


@pytest.mark.django_db
@pytest.mark.parametrize("status", TaskStatus.values)
@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_review_service_from_each_status(org, status, decision):
    user = MembershipFactory(org=org).user
    task = AnnotationTaskFactory(org=org, status=status)
    allowed = status == "in_review"

    def review():
        return services.annotation_task_review(
            org=org, task_id=task.pk, reviewer=user, decision=decision, comment="Why"
        )

    if allowed:
        review()
    else:
        with pytest.raises(Conflict):
            review()

    task.refresh_from_db()
    assert task.status == (decision if allowed else status)
    assert task.reviews.count() == (1 if allowed else 0)


@pytest.mark.django_db
def test_review_service_rejects_unknown_decision(org):
    user = MembershipFactory(org=org).user
    task = AnnotationTaskFactory(org=org, status="in_review")

    with pytest.raises(InvalidInput):
        services.annotation_task_review(
            org=org, task_id=task.pk, reviewer=user, decision="open"
        )

    task.refresh_from_db()
    assert task.status == "in_review"


@pytest.mark.django_db
def test_create_service_derives_title_within_limit(org):
    from tests.factories import DatasetFactory

    dataset = DatasetFactory(org=org, name="d" * 200)

    task = services.annotation_task_create(
        org=org, created_by=None, dataset_id=dataset.pk
    )

    assert len(task.title) == services.TITLE_MAX_LENGTH
    assert task.title.startswith("Annotate ddd")
