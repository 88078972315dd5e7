"""The annotation actions through the real URL, view, auth and services."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.choices import TaskStatus
from annotations.models import AnnotationReview, AnnotationTask
from tests.factories import (
    AnnotationReviewFactory,
    AnnotationTaskFactory,
    DatasetFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _status(task: AnnotationTask) -> str:
    task.refresh_from_db()
    return task.status


# ---------------------------------------------------------------------------
# list_annotation_tasks


def test_list_returns_only_own_org_tasks(call, org, other_org):
    mine = AnnotationTaskFactory(org=org, title="Label box grasps")
    AnnotationTaskFactory(org=other_org, title="Label other grasps")

    result = call("list_annotation_tasks")

    assert result.status == 200
    assert [item["id"] for item in result.data] == [mine.pk]
    assert result.body["meta"] == {"total": 1, "limit": 50, "offset": 0}


def test_list_item_fields(call, org):
    dataset = DatasetFactory(org=org, name="box-grasps")
    assignee = MembershipFactory(org=org, role="annotator").user
    task = AnnotationTaskFactory(
        org=org,
        title="Label box grasps",
        dataset=dataset,
        assignee=assignee,
        priority="high",
        data_type="video",
        labels={"classes": ["grasp", "miss"]},
    )
    AnnotationReviewFactory(task=task, decision="rejected", comment="Blurry")

    item = call("list_annotation_tasks").data[0]

    assert item["id"] == task.pk
    assert item["title"] == "Label box grasps"
    assert item["dataset_id"] == dataset.pk
    assert item["dataset_name"] == "box-grasps"
    assert item["assignee"] == {"id": assignee.pk, "username": assignee.username}
    assert item["priority"] == "high"
    assert item["data_type"] == "video"
    assert item["status"] == "open"
    assert item["labels"] == {"classes": ["grasp", "miss"]}
    assert item["review_count"] == 1
    assert item["submitted_at"] is None


def test_list_filters_by_status_and_priority(call, org):
    AnnotationTaskFactory(org=org, status="open", priority="high")
    expected = AnnotationTaskFactory(org=org, status="in_review", priority="high")
    AnnotationTaskFactory(org=org, status="in_review", priority="low")

    result = call("list_annotation_tasks", {"status": "in_review", "priority": "high"})

    assert [item["id"] for item in result.data] == [expected.pk]


def test_list_filters_by_assignee_id_and_username(call, org):
    alice = MembershipFactory(org=org, role="annotator").user
    bob = MembershipFactory(org=org, role="annotator").user
    alices = AnnotationTaskFactory(org=org, assignee=alice)
    AnnotationTaskFactory(org=org, assignee=bob)
    AnnotationTaskFactory(org=org)

    by_id = call("list_annotation_tasks", {"assignee": alice.pk})
    by_name = call("list_annotation_tasks", {"assignee": alice.username})

    assert [item["id"] for item in by_id.data] == [alices.pk]
    assert [item["id"] for item in by_name.data] == [alices.pk]


def test_list_unknown_assignee_matches_nothing(call, org):
    AnnotationTaskFactory(org=org, assignee=MembershipFactory(org=org).user)

    result = call("list_annotation_tasks", {"assignee": "nobody-here"})

    assert result.status == 200
    assert result.data == []


def test_list_filters_by_dataset(call, org):
    dataset = DatasetFactory(org=org)
    on_dataset = AnnotationTaskFactory(org=org, dataset=dataset)
    AnnotationTaskFactory(org=org, dataset=DatasetFactory(org=org))
    AnnotationTaskFactory(org=org)

    result = call("list_annotation_tasks", {"dataset_id": dataset.pk})

    assert [item["id"] for item in result.data] == [on_dataset.pk]


def test_list_other_org_dataset_is_404(call, other_org):
    foreign = DatasetFactory(org=other_org)

    result = call("list_annotation_tasks", {"dataset_id": foreign.pk})

    assert result.status == 404
    assert result.body["code"] == "dataset_not_found"


def test_list_search_matches_title_and_description(call, org):
    by_title = AnnotationTaskFactory(org=org, title="Mark GRASP failures")
    by_text = AnnotationTaskFactory(
        org=org, title="Episodes 1-40", description="grasp outcomes"
    )
    AnnotationTaskFactory(org=org, title="Segment shelves")

    result = call("list_annotation_tasks", {"search": "grasp"})

    assert {item["id"] for item in result.data} == {by_title.pk, by_text.pk}


def test_list_pagination(call, org):
    tasks = [AnnotationTaskFactory(org=org) for _ in range(5)]
    newest_first = [task.pk for task in reversed(tasks)]

    result = call("list_annotation_tasks", {"limit": 2, "offset": 1})

    assert [item["id"] for item in result.data] == newest_first[1:3]
    assert result.body["meta"] == {"total": 5, "limit": 2, "offset": 1}


def _make_listed_tasks(org, count: int) -> None:
    dataset = DatasetFactory(org=org)
    for index in range(count):
        assignee = MembershipFactory(org=org, role="annotator").user
        task = AnnotationTaskFactory(
            org=org, dataset=dataset if index % 2 else None, assignee=assignee
        )
        AnnotationReviewFactory(task=task, reviewer=assignee)


def test_list_query_count_does_not_grow(call, org):
    _make_listed_tasks(org, 3)
    call("list_annotation_tasks")  # first use of the token writes last_used_at

    with CaptureQueriesContext(connection) as few:
        assert call("list_annotation_tasks").status == 200
    _make_listed_tasks(org, 27)
    with CaptureQueriesContext(connection) as many:
        result = call("list_annotation_tasks")

    assert len(result.data) == 30
    assert len(many) == len(few)


# ---------------------------------------------------------------------------
# create_annotation_task


def test_create_with_every_param(call, org, admin_user):
    dataset = DatasetFactory(org=org)
    assignee = MembershipFactory(org=org, role="annotator").user

    result = call(
        "create_annotation_task",
        {
            "title": "Label grasp episodes",
            "description": "Mark each grasp as success or miss.",
            "dataset_id": dataset.pk,
            "data_type": "video",
            "priority": "high",
            "assignee_id": assignee.pk,
            "labels": {"classes": ["success", "miss"]},
        },
    )

    assert result.status == 200
    task = AnnotationTask.objects.get(pk=result.data["id"])
    assert task.org == org
    assert task.title == "Label grasp episodes"
    assert task.description == "Mark each grasp as success or miss."
    assert task.dataset == dataset
    assert task.data_type == "video"
    assert task.priority == "high"
    assert task.assignee == assignee
    assert task.labels == {"classes": ["success", "miss"]}
    assert task.created_by == admin_user
    assert task.status == TaskStatus.OPEN
    assert result.data["review_count"] == 0


def test_create_defaults(call):
    result = call("create_annotation_task", {"title": "Label"})

    assert result.data["data_type"] == "episode"
    assert result.data["priority"] == "medium"
    assert result.data["status"] == "open"
    assert result.data["assignee"] is None
    assert result.data["dataset_id"] is None


def test_create_without_title_uses_dataset_name(call, org):
    dataset = DatasetFactory(org=org, name="shelf-picks")

    result = call("create_annotation_task", {"dataset_id": dataset.pk})

    assert result.data["title"] == "Annotate shelf-picks"


def test_create_without_anything_is_untitled(call):
    result = call("create_annotation_task", {})

    assert result.status == 200
    assert result.data["title"] == "Untitled task"


def test_create_blank_title_is_replaced(call):
    result = call("create_annotation_task", {"title": "   "})

    assert result.data["title"] == "Untitled task"


def test_create_title_is_stripped(call):
    result = call("create_annotation_task", {"title": "  Label grasps  "})

    assert result.data["title"] == "Label grasps"


def test_create_with_other_org_dataset_is_404(call, other_org):
    foreign = DatasetFactory(org=other_org)

    result = call("create_annotation_task", {"title": "T", "dataset_id": foreign.pk})

    assert result.status == 404
    assert result.body["code"] == "dataset_not_found"
    assert not AnnotationTask.objects.exists()


def test_create_with_missing_dataset_is_404(call):
    result = call("create_annotation_task", {"title": "T", "dataset_id": 987654})

    assert result.status == 404
    assert "987654" in result.body["detail"]


def test_create_with_other_org_assignee_is_400(call, other_org):
    outsider = MembershipFactory(org=other_org).user

    result = call("create_annotation_task", {"title": "T", "assignee_id": outsider.pk})

    assert result.status == 400
    assert result.body["code"] == "assignee_not_member"
    assert "assignee_id" in result.body["errors"]
    assert not AnnotationTask.objects.exists()


def test_create_with_user_without_membership_is_400(call):
    loner = UserFactory()

    result = call("create_annotation_task", {"title": "T", "assignee_id": loner.pk})

    assert result.status == 400
    assert str(loner.pk) in result.body["detail"]


def test_create_with_inactive_member_is_400(call, org):
    membership = MembershipFactory(org=org, role="annotator")
    membership.user.is_active = False
    membership.user.save()

    result = call(
        "create_annotation_task", {"title": "T", "assignee_id": membership.user.pk}
    )

    assert result.status == 400


def test_create_with_nul_character_is_400(call):
    result = call("create_annotation_task", {"title": "bad\u0000title"})

    assert result.status == 400
    assert "title" in result.body["errors"]


# ---------------------------------------------------------------------------
# submit_task


def test_submit_in_progress_task(call, org):
    task = AnnotationTaskFactory(org=org, status="in_progress")

    result = call("submit_task", {"task_id": task.pk})

    assert result.status == 200
    assert result.data["status"] == "in_review"
    assert result.data["submitted_at"] is not None
    assert _status(task) == TaskStatus.IN_REVIEW


def test_submit_open_task_starts_it_and_assigns_caller(call, org, admin_user):
    task = AnnotationTaskFactory(org=org, status="open")

    result = call("submit_task", {"task_id": task.pk})

    assert result.status == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_REVIEW
    assert task.assignee == admin_user
    assert task.submitted_at is not None


def test_submit_open_task_keeps_its_assignee(call, org):
    assignee = MembershipFactory(org=org, role="annotator").user
    task = AnnotationTaskFactory(org=org, status="open", assignee=assignee)

    call("submit_task", {"task_id": task.pk})

    task.refresh_from_db()
    assert task.assignee == assignee


@pytest.mark.parametrize("status", ["in_review", "approved", "rejected"])
def test_submit_from_disallowed_status_is_409(call, org, status):
    task = AnnotationTaskFactory(org=org, status=status)

    result = call("submit_task", {"task_id": task.pk})

    assert result.status == 409
    assert result.body["code"] == "invalid_transition"
    assert status in result.body["detail"]
    assert _status(task) == status


def test_submit_other_org_task_is_404(call, other_org):
    foreign = AnnotationTaskFactory(org=other_org, status="in_progress")

    result = call("submit_task", {"task_id": foreign.pk})

    assert result.status == 404
    assert result.body["code"] == "annotationtask_not_found"
    assert _status(foreign) == TaskStatus.IN_PROGRESS


def test_submit_missing_task_is_404(call):
    assert call("submit_task", {"task_id": 424242}).status == 404


# ---------------------------------------------------------------------------
# assign_task


def test_assign_open_task_to_member(call, org):
    assignee = MembershipFactory(org=org, role="annotator").user
    task = AnnotationTaskFactory(org=org, status="open")

    result = call("assign_task", {"task_id": task.pk, "assignee_id": assignee.pk})

    assert result.status == 200
    assert result.data["status"] == "in_progress"
    assert result.data["assignee"]["id"] == assignee.pk
    task.refresh_from_db()
    assert task.assignee == assignee


def test_assign_defaults_to_caller(call, org, admin_user):
    task = AnnotationTaskFactory(org=org, status="open")

    result = call("assign_task", {"task_id": task.pk})

    assert result.data["assignee"]["id"] == admin_user.pk


def test_assign_rejected_task_starts_rework(call, org):
    task = AnnotationTaskFactory(org=org, status="rejected")

    result = call("assign_task", {"task_id": task.pk})

    assert result.data["status"] == "in_progress"


@pytest.mark.parametrize("status", ["in_progress", "in_review", "approved"])
def test_assign_from_disallowed_status_is_409(call, org, status):
    task = AnnotationTaskFactory(org=org, status=status)

    result = call("assign_task", {"task_id": task.pk})

    assert result.status == 409
    assert result.body["code"] == "invalid_transition"
    assert _status(task) == status


def test_assign_to_other_org_member_is_400(call, org, other_org):
    outsider = MembershipFactory(org=other_org).user
    task = AnnotationTaskFactory(org=org, status="open")

    result = call("assign_task", {"task_id": task.pk, "assignee_id": outsider.pk})

    assert result.status == 400
    assert result.body["code"] == "assignee_not_member"
    assert _status(task) == TaskStatus.OPEN


def test_assign_other_org_task_is_404(call, other_org):
    foreign = AnnotationTaskFactory(org=other_org, status="open")

    result = call("assign_task", {"task_id": foreign.pk})

    assert result.status == 404
    assert _status(foreign) == TaskStatus.OPEN


# ---------------------------------------------------------------------------
# review_task


def test_review_approve_records_review(call, org, admin_user):
    task = AnnotationTaskFactory(org=org, status="in_review")

    result = call(
        "review_task",
        {"task_id": task.pk, "decision": "approved", "comment": "Clean labels"},
    )

    assert result.status == 200
    assert result.data["status"] == "approved"
    assert result.data["review"]["decision"] == "approved"
    assert result.data["review"]["reviewer"]["id"] == admin_user.pk
    assert result.data["review_count"] == 1
    review = AnnotationReview.objects.get(task=task)
    assert review.reviewer == admin_user
    assert review.comment == "Clean labels"


def test_review_approve_without_comment(call, org):
    task = AnnotationTaskFactory(org=org, status="in_review")

    result = call("review_task", {"task_id": task.pk, "decision": "approved"})

    assert result.status == 200
    assert AnnotationReview.objects.get(task=task).comment == ""


def test_review_reject_with_comment(call, org):
    task = AnnotationTaskFactory(org=org, status="in_review")

    result = call(
        "review_task",
        {"task_id": task.pk, "decision": "rejected", "comment": "Missed frame 12"},
    )

    assert result.data["status"] == "rejected"
    assert AnnotationReview.objects.get(task=task).decision == "rejected"


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_review_reject_without_comment_is_400(call, org, comment):
    task = AnnotationTaskFactory(org=org, status="in_review")
    params = {"task_id": task.pk, "decision": "rejected"}
    if comment is not None:
        params["comment"] = comment

    result = call("review_task", params)

    assert result.status == 400
    assert "comment" in result.body["errors"]
    assert _status(task) == TaskStatus.IN_REVIEW
    assert not AnnotationReview.objects.exists()


@pytest.mark.parametrize("status", ["open", "in_progress", "approved", "rejected"])
def test_review_task_not_in_review_is_409(call, org, status):
    task = AnnotationTaskFactory(org=org, status=status)

    result = call("review_task", {"task_id": task.pk, "decision": "approved"})

    assert result.status == 409
    assert result.body["code"] == "invalid_transition"
    assert _status(task) == status
    assert not AnnotationReview.objects.exists()


def test_review_other_org_task_is_404(call, other_org):
    foreign = AnnotationTaskFactory(org=other_org, status="in_review")

    result = call("review_task", {"task_id": foreign.pk, "decision": "approved"})

    assert result.status == 404
    assert _status(foreign) == TaskStatus.IN_REVIEW
    assert not AnnotationReview.objects.exists()


def test_rework_cycle_through_actions(call, org):
    annotator = MembershipFactory(org=org, role="annotator").user
    task_id = call("create_annotation_task", {"title": "Label"}).data["id"]

    call("assign_task", {"task_id": task_id, "assignee_id": annotator.pk})
    call("submit_task", {"task_id": task_id})
    call(
        "review_task",
        {"task_id": task_id, "decision": "rejected", "comment": "Wrong class"},
    )
    call("assign_task", {"task_id": task_id, "assignee_id": annotator.pk})
    call("submit_task", {"task_id": task_id})
    final = call("review_task", {"task_id": task_id, "decision": "approved"})

    assert final.data["status"] == "approved"
    assert final.data["review_count"] == 2
    decisions = AnnotationReview.objects.filter(task_id=task_id).order_by("id")
    assert [r.decision for r in decisions] == ["rejected", "approved"]
