"""Actions of the annotations category: tasks, their workflow and metrics."""

from rest_framework import serializers

from annotations import selectors, services
from annotations.choices import DataType, ReviewDecision, TaskPriority, TaskStatus
from annotations.models import AnnotationReview, AnnotationTask
from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    MAX_INTEGER,
    ActionParams,
    JSONObjectField,
    PaginationParams,
    StrictCharField,
    StrictChoiceField,
    is_storable_text,
    object_id_field,
)

READ = ["annotations:read"]
WRITE = ["annotations:write"]


def _iso(value):
    return value.isoformat() if value else None


def _user_data(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username}


def task_data(task: AnnotationTask) -> dict:
    review_count = getattr(task, "review_count", None)
    if review_count is None:
        review_count = task.reviews.count()
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "priority": task.priority,
        "data_type": task.data_type,
        "dataset_id": task.dataset_id,
        "dataset_name": task.dataset.name if task.dataset_id else None,
        "assignee": _user_data(task.assignee),
        "labels": task.labels,
        "review_count": review_count,
        "created_by_id": task.created_by_id,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "submitted_at": _iso(task.submitted_at),
    }


def review_data(review: AnnotationReview) -> dict:
    return {
        "id": review.pk,
        "task_id": review.task_id,
        "reviewer": _user_data(review.reviewer),
        "decision": review.decision,
        "comment": review.comment,
        "created_at": _iso(review.created_at),
    }


class UserReferenceField(serializers.Field):
    """A user named by id (a positive integer) or by username (a string)."""

    json_schema = {
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "minLength": 1, "maxLength": 150},
        ]
    }

    default_error_messages = {
        "invalid": "Must be a user id (integer) or a username (string).",
        "out_of_range": f"A user id must be between 1 and {MAX_INTEGER}.",
        "blank": "A username cannot be blank.",
        "too_long": "A username has at most 150 characters.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            if not 1 <= data <= MAX_INTEGER:
                self.fail("out_of_range")
            return data
        if isinstance(data, str):
            username = data.strip()
            if not username:
                self.fail("blank")
            if not is_storable_text(username):
                self.fail("invalid")
            if len(username) > 150:
                self.fail("too_long")
            return username
        self.fail("invalid")

    def to_representation(self, value):
        return value


class ListAnnotationTasksParams(PaginationParams):
    status = StrictChoiceField(
        choices=TaskStatus.values,
        required=False,
        help_text="Only tasks in this status.",
    )
    assignee = UserReferenceField(
        required=False,
        help_text="Only tasks assigned to this user, by user id or username.",
    )
    priority = StrictChoiceField(
        choices=TaskPriority.values,
        required=False,
        help_text="Only tasks of this priority.",
    )
    dataset_id = object_id_field(
        "dataset", required=False, help_text="Only tasks on this dataset."
    )
    search = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Case-insensitive text to find in the title or description.",
    )


@action(
    name="list_annotation_tasks",
    category="annotations",
    description=(
        "List annotation tasks with optional status, assignee, and search filters."
    ),
    scopes=READ,
    risk=Risk.READ,
    params=ListAnnotationTasksParams,
)
def list_annotation_tasks(context, params):
    queryset = selectors.annotation_task_list(
        org=context.org,
        status=params.get("status"),
        assignee=params.get("assignee"),
        priority=params.get("priority"),
        dataset_id=params.get("dataset_id"),
        search=params.get("search"),
    )
    return paginate(queryset, params, task_data)


class CreateAnnotationTaskParams(ActionParams):
    title = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=services.TITLE_MAX_LENGTH,
        help_text=(
            "Title of the task. Defaults to 'Annotate <dataset name>', or "
            "'Untitled task' without a dataset."
        ),
    )
    description = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=10000,
        help_text="What to annotate and how.",
    )
    dataset_id = object_id_field(
        "dataset", required=False, help_text="Dataset the task is about."
    )
    data_type = StrictChoiceField(
        choices=DataType.values,
        required=False,
        default=DataType.EPISODE,
        help_text="Kind of data to annotate.",
    )
    priority = StrictChoiceField(
        choices=TaskPriority.values,
        required=False,
        default=TaskPriority.MEDIUM,
        help_text="Priority of the task.",
    )
    assignee_id = object_id_field(
        "user",
        required=False,
        help_text="Member of the organisation who will do the work.",
    )
    labels = JSONObjectField(
        required=False,
        max_keys=100,
        help_text="Label schema or instructions as a JSON object.",
    )


@action(
    name="create_annotation_task",
    category="annotations",
    description="Create a new annotation task, optionally linked to a dataset.",
    scopes=WRITE,
    risk=Risk.WRITE,
    params=CreateAnnotationTaskParams,
)
def create_annotation_task(context, params):
    task = services.annotation_task_create(
        org=context.org,
        created_by=context.user,
        title=params.get("title"),
        description=params["description"],
        dataset_id=params.get("dataset_id"),
        data_type=params["data_type"],
        priority=params["priority"],
        assignee_id=params.get("assignee_id"),
        labels=params.get("labels"),
    )
    return task_data(task)


class AnnotationMetricsParams(ActionParams):
    dataset_id = object_id_field(
        "dataset", required=False, help_text="Only tasks on this dataset."
    )


@action(
    name="get_annotation_metrics",
    category="annotations",
    description=(
        "Aggregated quality metrics: pass rate, review counts, status distribution."
    ),
    scopes=READ,
    risk=Risk.READ,
    params=AnnotationMetricsParams,
)
def get_annotation_metrics(context, params):
    return selectors.annotation_metrics(
        org=context.org, dataset_id=params.get("dataset_id")
    )


class TaskParams(ActionParams):
    task_id = object_id_field("annotation task")


@action(
    name="submit_task",
    category="annotations",
    description="Submit an annotation task for review (transition to in_review).",
    scopes=WRITE,
    risk=Risk.WRITE,
    params=TaskParams,
)
def submit_task(context, params):
    task = services.annotation_task_submit(
        org=context.org, task_id=params["task_id"], submitted_by=context.user
    )
    return task_data(task)


class AssignTaskParams(TaskParams):
    assignee_id = object_id_field(
        "user",
        required=False,
        help_text="Member who will do the work. Defaults to the caller.",
    )


@action(
    name="assign_task",
    category="annotations",
    description=(
        "Assign an open or rejected annotation task to a member and start it "
        "(transition to in_progress)."
    ),
    scopes=WRITE,
    risk=Risk.WRITE,
    params=AssignTaskParams,
)
def assign_task(context, params):
    task = services.annotation_task_assign(
        org=context.org,
        task_id=params["task_id"],
        assignee_id=params.get("assignee_id", context.user.pk),
    )
    return task_data(task)


class ReviewTaskParams(TaskParams):
    decision = StrictChoiceField(
        choices=ReviewDecision.values, help_text="approved or rejected."
    )
    comment = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Feedback for the annotator. Required when rejecting.",
    )


@action(
    name="review_task",
    category="annotations",
    description=(
        "Approve or reject an annotation task in review, with a comment "
        "(required when rejecting)."
    ),
    scopes=WRITE,
    risk=Risk.WRITE,
    params=ReviewTaskParams,
)
def review_task(context, params):
    task, review = services.annotation_task_review(
        org=context.org,
        task_id=params["task_id"],
        reviewer=context.user,
        decision=params["decision"],
        comment=params["comment"],
    )
    return task_data(task) | {"review": review_data(review)}
