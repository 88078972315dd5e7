"""Who may run the annotation actions, and input that must be rejected."""

import pytest

from annotations.models import AnnotationTask
from tests.factories import AnnotationTaskFactory

pytestmark = pytest.mark.django_db

READ_ACTIONS = ["list_annotation_tasks", "get_annotation_metrics"]
WRITE_ACTIONS = [
    "create_annotation_task",
    "submit_task",
    "assign_task",
    "review_task",
]
ALL_ACTIONS = READ_ACTIONS + WRITE_ACTIONS


@pytest.mark.parametrize("name", ALL_ACTIONS)
def test_action_without_token_is_401(call, name):
    result = call(name, {}, token=None)

    assert result.status == 401
    assert result.body["ok"] is False


@pytest.mark.parametrize("name", ALL_ACTIONS)
def test_action_with_unrelated_scope_is_403(call, make_token, org, name):
    token = make_token(role="admin", scopes=["datasets:read"], org=org)

    result = call(name, {}, token=token)

    assert result.status == 403
    assert result.body["code"] == "permission_denied"


@pytest.mark.parametrize("name", READ_ACTIONS)
def test_read_action_with_write_scope_only_is_403(call, make_token, org, name):
    token = make_token(role="admin", scopes=["annotations:write"], org=org)

    assert call(name, {}, token=token).status == 403


@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_write_action_with_read_scope_only_is_403(call, make_token, org, name):
    token = make_token(role="admin", scopes=["annotations:read"], org=org)

    assert call(name, {}, token=token).status == 403


@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_write_action_as_viewer_is_403(call, make_token, org, name):
    token = make_token(role="viewer", scopes=["*"], org=org)

    result = call(name, {}, token=token)

    assert result.status == 403
    assert "annotations:write" in result.body["detail"]


@pytest.mark.parametrize("role", ["admin", "operator", "annotator", "viewer"])
def test_every_role_may_list_tasks(call, make_token, org, role):
    AnnotationTaskFactory(org=org)
    token = make_token(role=role, scopes=["*"], org=org)

    result = call("list_annotation_tasks", {}, token=token)

    assert result.status == 200
    assert len(result.data) == 1


@pytest.mark.parametrize("role", ["admin", "operator", "annotator"])
def test_writing_roles_may_create_tasks(call, make_token, org, role):
    token = make_token(role=role, scopes=["*"], org=org)

    result = call("create_annotation_task", {"title": "Box grasps"}, token=token)

    assert result.status == 200
    assert AnnotationTask.objects.filter(org=org).count() == 1


# ---------------------------------------------------------------------------
# Params that must be rejected with 400 and the field named


INVALID_PARAMS = [
    ("list_annotation_tasks", {"status": 5}, "status"),
    ("list_annotation_tasks", {"status": "done"}, "status"),
    ("list_annotation_tasks", {"priority": "asap"}, "priority"),
    ("list_annotation_tasks", {"assignee": True}, "assignee"),
    ("list_annotation_tasks", {"assignee": 1.5}, "assignee"),
    ("list_annotation_tasks", {"assignee": []}, "assignee"),
    ("list_annotation_tasks", {"assignee": ""}, "assignee"),
    ("list_annotation_tasks", {"assignee": 0}, "assignee"),
    ("list_annotation_tasks", {"assignee": 2**63}, "assignee"),
    ("list_annotation_tasks", {"assignee": "u" * 151}, "assignee"),
    ("list_annotation_tasks", {"dataset_id": "1"}, "dataset_id"),
    ("list_annotation_tasks", {"dataset_id": 2**63}, "dataset_id"),
    ("list_annotation_tasks", {"search": 7}, "search"),
    ("list_annotation_tasks", {"limit": "5"}, "limit"),
    ("list_annotation_tasks", {"limit": 0}, "limit"),
    ("list_annotation_tasks", {"limit": 201}, "limit"),
    ("list_annotation_tasks", {"offset": -1}, "offset"),
    ("list_annotation_tasks", {"offset": 2**64}, "offset"),
    ("list_annotation_tasks", {"colour": "red"}, "colour"),
    ("create_annotation_task", {"title": 5}, "title"),
    ("create_annotation_task", {"title": "t" * 201}, "title"),
    ("create_annotation_task", {"title": "T", "description": None}, "description"),
    ("create_annotation_task", {"title": "T", "dataset_id": "42"}, "dataset_id"),
    ("create_annotation_task", {"title": "T", "dataset_id": 0}, "dataset_id"),
    ("create_annotation_task", {"title": "T", "data_type": "audio"}, "data_type"),
    ("create_annotation_task", {"title": "T", "data_type": 1}, "data_type"),
    ("create_annotation_task", {"title": "T", "priority": "HIGH"}, "priority"),
    ("create_annotation_task", {"title": "T", "assignee_id": "me"}, "assignee_id"),
    ("create_annotation_task", {"title": "T", "assignee_id": 2**63}, "assignee_id"),
    ("create_annotation_task", {"title": "T", "labels": [1, 2]}, "labels"),
    ("create_annotation_task", {"title": "T", "labels": "{}"}, "labels"),
    ("get_annotation_metrics", {"dataset_id": True}, "dataset_id"),
    ("get_annotation_metrics", {"dataset_id": -3}, "dataset_id"),
    ("submit_task", {}, "task_id"),
    ("submit_task", {"task_id": "1"}, "task_id"),
    ("submit_task", {"task_id": None}, "task_id"),
    ("submit_task", {"task_id": 1.0}, "task_id"),
    ("submit_task", {"task_id": 0}, "task_id"),
    ("submit_task", {"task_id": 2**63}, "task_id"),
    ("assign_task", {}, "task_id"),
    ("assign_task", {"task_id": 1, "assignee_id": "bob"}, "assignee_id"),
    ("assign_task", {"task_id": 1, "assignee_id": -1}, "assignee_id"),
    ("review_task", {}, "task_id"),
    ("review_task", {"task_id": 1}, "decision"),
    ("review_task", {"task_id": 1, "decision": "maybe"}, "decision"),
    ("review_task", {"task_id": 1, "decision": True}, "decision"),
    ("review_task", {"task_id": 1, "decision": "approved", "comment": 3}, "comment"),
    ("review_task", {"task_id": 1, "decision": "approved", "x": 1}, "x"),
]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    INVALID_PARAMS,
    ids=[f"{name}-{field}-{i}" for i, (name, _, field) in enumerate(INVALID_PARAMS)],
)
def test_invalid_param_is_400_naming_field(call, name, params, field):
    result = call(name, params)

    assert result.status == 400, result.body
    assert result.body["code"] == "invalid"
    assert field in result.body["errors"]
    assert field in result.body["detail"]


NON_FINITE_BODIES = [
    ("list_annotation_tasks", '{"params": {"limit": NaN}}'),
    ("list_annotation_tasks", '{"params": {"offset": Infinity}}'),
    ("list_annotation_tasks", '{"params": {"assignee": -Infinity}}'),
    ("list_annotation_tasks", '{"params": {"dataset_id": 1e400}}'),
    ("create_annotation_task", '{"params": {"title": "T", "dataset_id": NaN}}'),
    ("create_annotation_task", '{"params": {"title": "T", "labels": {"w": NaN}}}'),
    ("create_annotation_task", '{"params": {"title": "T", "labels": {"w": 1e400}}}'),
    ("get_annotation_metrics", '{"params": {"dataset_id": Infinity}}'),
    ("submit_task", '{"params": {"task_id": NaN}}'),
    ("submit_task", '{"params": {"task_id": 1e400}}'),
    ("submit_task", '{"params": {"task_id": 99999999999999999999999}}'),
    ("assign_task", '{"params": {"task_id": 1, "assignee_id": 1e400}}'),
    ("review_task", '{"params": {"task_id": Infinity, "decision": "approved"}}'),
]


@pytest.mark.parametrize(("name", "body"), NON_FINITE_BODIES)
def test_non_finite_number_is_400(call, name, body):
    result = call(name, body=body)

    assert result.status == 400, result.body
    assert result.body["ok"] is False


@pytest.mark.parametrize("name", ALL_ACTIONS)
def test_params_not_an_object_is_400(call, name):
    result = call(name, body='{"params": [1, 2]}')

    assert result.status == 400
    assert result.body["ok"] is False


def test_failed_create_leaves_no_task(call, org):
    result = call("create_annotation_task", {"title": "T", "priority": "asap"})

    assert result.status == 400
    assert not AnnotationTask.objects.exists()
