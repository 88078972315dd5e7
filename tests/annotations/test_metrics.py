"""get_annotation_metrics on known tasks and reviews."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    AnnotationReviewFactory,
    AnnotationTaskFactory,
    DatasetFactory,
    MembershipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def known_tasks(org, other_org):
    """Seven tasks with six reviews in ``org``, plus tasks in ``other_org``.

    Reviews: a rejected then approved, b approved, c rejected twice, g
    approved, so 3 approved of 6. Tasks a, b and the in_review one are on
    ``dataset``: 2 approved of 3 reviews there.
    """
    alice = MembershipFactory(org=org, role="annotator").user
    bob = MembershipFactory(org=org, role="annotator").user
    dataset = DatasetFactory(org=org)

    a = AnnotationTaskFactory(
        org=org, status="approved", assignee=alice, dataset=dataset
    )
    b = AnnotationTaskFactory(
        org=org, status="approved", assignee=alice, dataset=dataset
    )
    c = AnnotationTaskFactory(org=org, status="rejected", assignee=bob)
    AnnotationTaskFactory(org=org, status="in_review", assignee=alice, dataset=dataset)
    AnnotationTaskFactory(org=org, status="open")
    AnnotationTaskFactory(org=org, status="in_progress", assignee=bob)
    g = AnnotationTaskFactory(org=org, status="approved", assignee=bob)

    AnnotationReviewFactory(task=a, decision="rejected", comment="Missed grasp")
    AnnotationReviewFactory(task=a, decision="approved")
    AnnotationReviewFactory(task=b, decision="approved")
    AnnotationReviewFactory(task=c, decision="rejected", comment="Wrong class")
    AnnotationReviewFactory(task=c, decision="rejected", comment="Still wrong")
    AnnotationReviewFactory(task=g, decision="approved")

    foreign = AnnotationTaskFactory(org=other_org, status="rejected")
    AnnotationReviewFactory(task=foreign, decision="rejected", comment="No")
    AnnotationReviewFactory(task=foreign, decision="rejected", comment="No")

    return {"alice": alice, "bob": bob, "dataset": dataset}


def test_metrics_review_counts_and_pass_rate(call, known_tasks):
    data = call("get_annotation_metrics").data

    assert data["reviews"] == {"total": 6, "approved": 3, "rejected": 3}
    assert data["pass_rate"] == pytest.approx(0.5)


def test_metrics_status_distribution(call, known_tasks):
    data = call("get_annotation_metrics").data

    assert data["status_distribution"] == {
        "open": 1,
        "in_progress": 1,
        "in_review": 1,
        "approved": 3,
        "rejected": 1,
    }
    assert data["total_tasks"] == 7


def test_metrics_tasks_per_assignee(call, known_tasks):
    alice = known_tasks["alice"]
    bob = known_tasks["bob"]

    data = call("get_annotation_metrics").data

    by_user = {row["user_id"]: row for row in data["tasks_per_assignee"]}
    assert by_user[alice.pk]["tasks"] == 3
    assert by_user[alice.pk]["approved"] == 2
    assert by_user[alice.pk]["username"] == alice.username
    assert by_user[bob.pk]["tasks"] == 3
    assert by_user[bob.pk]["approved"] == 1
    assert len(by_user) == 2
    assert data["unassigned_tasks"] == 1


def test_metrics_filtered_by_dataset(call, known_tasks):
    dataset = known_tasks["dataset"]

    data = call("get_annotation_metrics", {"dataset_id": dataset.pk}).data

    assert data["dataset_id"] == dataset.pk
    assert data["total_tasks"] == 3
    assert data["status_distribution"]["approved"] == 2
    assert data["status_distribution"]["in_review"] == 1
    assert data["status_distribution"]["rejected"] == 0
    assert data["reviews"] == {"total": 3, "approved": 2, "rejected": 1}
    assert data["pass_rate"] == pytest.approx(2 / 3)


def test_metrics_without_reviews_has_null_pass_rate(call, org):
    AnnotationTaskFactory(org=org, status="open")

    data = call("get_annotation_metrics").data

    assert data["pass_rate"] is None
    assert data["reviews"] == {"total": 0, "approved": 0, "rejected": 0}
    assert data["status_distribution"]["open"] == 1


def test_metrics_of_empty_org_lists_every_status(call, org):
    data = call("get_annotation_metrics").data

    assert data["status_distribution"] == {
        "open": 0,
        "in_progress": 0,
        "in_review": 0,
        "approved": 0,
        "rejected": 0,
    }
    assert data["total_tasks"] == 0
    assert data["tasks_per_assignee"] == []


def test_metrics_other_org_dataset_is_404(call, other_org):
    foreign = DatasetFactory(org=other_org)

    result = call("get_annotation_metrics", {"dataset_id": foreign.pk})

    assert result.status == 404


def test_metrics_follow_the_workflow(call, org):
    annotator = MembershipFactory(org=org, role="annotator").user
    ids = [
        call("create_annotation_task", {"title": f"Label {n}"}).data["id"]
        for n in range(3)
    ]
    for task_id in ids:
        call("assign_task", {"task_id": task_id, "assignee_id": annotator.pk})
        call("submit_task", {"task_id": task_id})
    call("review_task", {"task_id": ids[0], "decision": "approved"})
    call("review_task", {"task_id": ids[1], "decision": "rejected", "comment": "Redo"})

    data = call("get_annotation_metrics").data

    assert data["pass_rate"] == pytest.approx(0.5)
    assert data["status_distribution"]["approved"] == 1
    assert data["status_distribution"]["rejected"] == 1
    assert data["status_distribution"]["in_review"] == 1
    assert data["tasks_per_assignee"] == [
        {
            "user_id": annotator.pk,
            "username": annotator.username,
            "tasks": 3,
            "approved": 1,
        }
    ]


def test_metrics_query_count_does_not_grow(call, org):
    def add_tasks(count):
        for _ in range(count):
            user = MembershipFactory(org=org, role="annotator").user
            task = AnnotationTaskFactory(org=org, status="approved", assignee=user)
            AnnotationReviewFactory(task=task)

    add_tasks(2)
    call("get_annotation_metrics")  # first use of the token writes last_used_at
    with CaptureQueriesContext(connection) as few:
        call("get_annotation_metrics")
    add_tasks(20)
    with CaptureQueriesContext(connection) as many:
        data = call("get_annotation_metrics").data

    assert data["total_tasks"] == 22
    assert len(many) == len(few)
