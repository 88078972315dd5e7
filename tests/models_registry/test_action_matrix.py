"""Scope, role and input checks of every models and evaluations action.

These cases fail before any object is looked up, so the ids in the params
need not exist.
"""

import pytest

pytestmark = pytest.mark.django_db

READ_ACTIONS = [
    "list_models",
    "get_model_lineage",
    "list_evaluations",
    "get_evaluation",
]
WRITE_ACTIONS = [
    "register_model",
    "promote_model",
    "create_evaluation",
    "record_evaluation_result",
]

VALID_PARAMS = {
    "list_models": {"limit": 5},
    "get_model_lineage": {"model_id": 1},
    "list_evaluations": {"limit": 5},
    "get_evaluation": {"evaluation_id": 1},
    "register_model": {"name": "pick-policy", "artifact_uri": "s3://bucket/m.pt"},
    "promote_model": {"model_id": 1, "target_status": "validated"},
    "create_evaluation": {"model_id": 1, "name": "sim-pick-50"},
    "record_evaluation_result": {
        "evaluation_id": 1,
        "metrics": {"success_rate": 0.9},
        "passed": True,
    },
}


def error_fields(body: dict) -> set[str]:
    """Return the params named in an error body, so ``tags.0`` counts as ``tags``."""
    return {key.split(".")[0].split("[")[0] for key in body.get("errors", {})}


# ---------------------------------------------------------------------------
# authentication, scopes and roles


@pytest.mark.parametrize("name", READ_ACTIONS + WRITE_ACTIONS)
def test_action_without_token_is_401(call, name):
    result = call(name, VALID_PARAMS[name], token=None)

    assert result.status == 401
    assert result.body["ok"] is False


@pytest.mark.parametrize("name", READ_ACTIONS)
@pytest.mark.parametrize("scopes", [["datasets:read"], ["models:write"]])
def test_read_without_scope_is_403(call, make_token, org, name, scopes):
    token = make_token(role="admin", scopes=scopes, org=org)

    result = call(name, VALID_PARAMS[name], token=token)

    assert result.status == 403
    assert "models:read" in result.body["detail"]


@pytest.mark.parametrize("name", WRITE_ACTIONS)
@pytest.mark.parametrize("scopes", [["models:read"], ["datasets:write", "fleet:write"]])
def test_write_without_scope_is_403(call, make_token, org, name, scopes):
    token = make_token(role="admin", scopes=scopes, org=org)

    result = call(name, VALID_PARAMS[name], token=token)

    assert result.status == 403
    assert "models:write" in result.body["detail"]


@pytest.mark.parametrize("name", READ_ACTIONS)
def test_read_as_annotator_is_403(call, make_token, org, name):
    token = make_token(role="annotator", scopes=["*"], org=org)

    result = call(name, VALID_PARAMS[name], token=token)

    assert result.status == 403


@pytest.mark.parametrize("name", WRITE_ACTIONS)
@pytest.mark.parametrize("role", ["operator", "viewer", "annotator"])
def test_write_by_role_is_403(call, make_token, org, name, role):
    token = make_token(role=role, scopes=["*"], org=org)

    result = call(name, VALID_PARAMS[name], token=token)

    assert result.status == 403
    assert "models:write" in result.body["detail"]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_reads_allowed_for_roles(call, make_token, org, role):
    token = make_token(role=role, scopes=["*"], org=org)

    assert call("list_models", {}, token=token).status == 200
    assert call("list_evaluations", {}, token=token).status == 200


# ---------------------------------------------------------------------------
# required params, JSON types and unknown params

REQUIRED_PARAMS = [
    ("register_model", "name"),
    ("promote_model", "model_id"),
    ("promote_model", "target_status"),
    ("get_model_lineage", "model_id"),
    ("get_evaluation", "evaluation_id"),
    ("create_evaluation", "model_id"),
    ("create_evaluation", "name"),
    ("record_evaluation_result", "evaluation_id"),
    ("record_evaluation_result", "metrics"),
    ("record_evaluation_result", "passed"),
]


@pytest.mark.parametrize(("name", "field"), REQUIRED_PARAMS)
def test_missing_required_param_is_400(call, name, field):
    params = {key: value for key, value in VALID_PARAMS[name].items() if key != field}

    result = call(name, params)

    assert result.status == 400
    assert field in error_fields(result.body)
    assert field in result.body["detail"]


WRONG_TYPES = [
    ("list_models", "limit", "5"),
    ("list_models", "offset", 1.5),
    ("list_models", "status", 5),
    ("list_models", "name", 5),
    ("list_models", "search", ["grasp"]),
    ("get_model_lineage", "model_id", "1"),
    ("get_model_lineage", "model_id", 1.0),
    ("get_model_lineage", "model_id", True),
    ("register_model", "name", 5),
    ("register_model", "name", None),
    ("register_model", "training_job_id", 123456789012),
    ("register_model", "artifact_uri", {"uri": "s3://bucket/m.pt"}),
    ("register_model", "model_type", 3),
    ("register_model", "description", 1),
    ("register_model", "metrics", [1, 2]),
    ("register_model", "metrics", "loss=0.1"),
    ("register_model", "tags", "sim"),
    ("register_model", "tags", [1]),
    ("promote_model", "model_id", "1"),
    ("promote_model", "target_status", 1),
    ("promote_model", "target_status", ["validated"]),
    ("promote_model", "reason", 5),
    ("list_evaluations", "model_id", "1"),
    ("list_evaluations", "status", 1),
    ("list_evaluations", "passed", "true"),
    ("list_evaluations", "passed", 1),
    ("get_evaluation", "evaluation_id", "1"),
    ("create_evaluation", "model_id", "1"),
    ("create_evaluation", "name", 1),
    ("create_evaluation", "dataset_id", "2"),
    ("create_evaluation", "environment", 1),
    ("create_evaluation", "notes", []),
    ("record_evaluation_result", "evaluation_id", "1"),
    ("record_evaluation_result", "metrics", "ok"),
    ("record_evaluation_result", "metrics", [0.9]),
    ("record_evaluation_result", "passed", "true"),
    ("record_evaluation_result", "passed", 1),
    ("record_evaluation_result", "passed", None),
    ("record_evaluation_result", "notes", 1),
]


@pytest.mark.parametrize(("name", "field", "value"), WRONG_TYPES)
def test_wrong_json_type_is_400(call, name, field, value):
    params = {**VALID_PARAMS[name], field: value}

    result = call(name, params)

    assert result.status == 400
    assert field in error_fields(result.body)
    assert field in result.body["detail"]


BAD_VALUES = [
    ("list_models", "limit", 0),
    ("list_models", "limit", 201),
    ("list_models", "offset", -1),
    ("list_models", "status", "archived"),
    ("get_model_lineage", "model_id", 0),
    ("get_model_lineage", "model_id", -3),
    ("register_model", "name", "   "),
    ("register_model", "name", "x" * 201),
    ("register_model", "training_job_id", "abc123"),
    ("register_model", "training_job_id", "ABCDEF123456"),
    ("register_model", "training_job_id", "abcdef12345g"),
    ("register_model", "tags", [""]),
    ("register_model", "tags", ["t"] * 51),
    ("promote_model", "target_status", "archived"),
    ("promote_model", "target_status", "Validated"),
    ("list_evaluations", "status", "running"),
    ("create_evaluation", "name", ""),
    ("record_evaluation_result", "evaluation_id", 0),
]


@pytest.mark.parametrize(("name", "field", "value"), BAD_VALUES)
def test_invalid_value_is_400(call, name, field, value):
    params = {**VALID_PARAMS[name], field: value}

    result = call(name, params)

    assert result.status == 400
    assert field in error_fields(result.body)


@pytest.mark.parametrize("name", READ_ACTIONS + WRITE_ACTIONS)
def test_unknown_param_is_400(call, name):
    result = call(name, {**VALID_PARAMS[name], "org": 1})

    assert result.status == 400
    assert "org" in error_fields(result.body)


# ---------------------------------------------------------------------------
# numbers JSON cannot carry, and integers beyond the database's range

RAW_BODIES = [
    ("list_models", '{"params": {"limit": NaN}}'),
    ("list_models", '{"params": {"limit": Infinity}}'),
    ("list_models", '{"params": {"offset": -Infinity}}'),
    ("list_models", '{"params": {"limit": 1e400}}'),
    ("list_models", '{"params": {"offset": 9223372036854775808}}'),
    ("list_models", '{"params": {"limit": 100000000000000000000000000000}}'),
    ("get_model_lineage", '{"params": {"model_id": NaN}}'),
    ("get_model_lineage", '{"params": {"model_id": 1e400}}'),
    ("get_model_lineage", '{"params": {"model_id": 9223372036854775808}}'),
    (
        "register_model",
        '{"params": {"name": "p", "artifact_uri": "a", "metrics": {"loss": NaN}}}',
    ),
    (
        "register_model",
        '{"params": {"name": "p", "artifact_uri": "a", "metrics": {"loss": 1e400}}}',
    ),
    (
        "register_model",
        '{"params": {"name": "p", "artifact_uri": "a", '
        '"metrics": {"curve": [0.5, -1e400]}}}',
    ),
    (
        "promote_model",
        '{"params": {"model_id": Infinity, "target_status": "validated"}}',
    ),
    (
        "promote_model",
        '{"params": {"model_id": 99999999999999999999, "target_status": "retired"}}',
    ),
    ("list_evaluations", '{"params": {"model_id": 1e400}}'),
    ("list_evaluations", '{"params": {"model_id": 9223372036854775808}}'),
    ("get_evaluation", '{"params": {"evaluation_id": -9223372036854775809}}'),
    (
        "create_evaluation",
        '{"params": {"model_id": 1, "name": "e", "dataset_id": NaN}}',
    ),
    (
        "create_evaluation",
        '{"params": {"model_id": 1, "name": "e", "dataset_id": 1e400}}',
    ),
    (
        "record_evaluation_result",
        '{"params": {"evaluation_id": 1, "passed": true, '
        '"metrics": {"success_rate": 1e400}}}',
    ),
    (
        "record_evaluation_result",
        '{"params": {"evaluation_id": 1, "passed": true, '
        '"metrics": {"success_rate": NaN}}}',
    ),
]


@pytest.mark.parametrize(("name", "body"), RAW_BODIES)
def test_unrepresentable_number_is_400(call, name, body):
    result = call(name, body=body)

    assert result.status == 400
    assert result.body["ok"] is False
