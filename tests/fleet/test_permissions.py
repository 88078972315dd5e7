"""Authentication, scopes and malformed bodies for every fleet action."""

import pytest

from centeros.actions import registry
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

FLEET_ACTIONS = {
    "get_fleet_summary": ("fleet:read",),
    "list_robots": ("fleet:read",),
    "get_robot_state": ("fleet:read",),
    "register_robot": ("fleet:write",),
    "deploy_model": ("fleet:write", "models:read"),
    "emergency_stop": ("fleet:write",),
    "rotate_robot_token": ("fleet:write",),
    "release_emergency_stop": ("fleet:write",),
    "list_deployments": ("fleet:read",),
    "rollback_deployment": ("fleet:write",),
    "acknowledge_alert": ("fleet:write",),
    "resolve_alert": ("fleet:write",),
}

WRITE_ACTIONS = [
    "register_robot",
    "deploy_model",
    "emergency_stop",
    "rotate_robot_token",
    "release_emergency_stop",
    "rollback_deployment",
    "acknowledge_alert",
    "resolve_alert",
]
READ_ACTIONS = [
    "get_fleet_summary",
    "list_robots",
    "get_robot_state",
    "list_deployments",
]


@pytest.fixture
def valid_params(robot, validated_model, org):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import AlertFactory, DeploymentFactory, RobotFactory

    stopped = RobotFactory(
        org=org, robot_id="arm-stopped", estopped=True, estopped_at=timezone.now()
    )
    deployed = RobotFactory(org=org, robot_id="arm-deployed")
    for minutes_ago in (20, 10):
        DeploymentFactory(
            robot=deployed,
            status="succeeded",
            finished_at=timezone.now() - timedelta(minutes=minutes_ago),
            model_version__artifact_uri="artifacts/policy.npz",
        )
    open_alert = AlertFactory(robot=robot, code="E_OPEN")
    acknowledged = AlertFactory(robot=robot, code="E_ACK", status="acknowledged")
    return {
        "rotate_robot_token": {"robot_id": robot.robot_id},
        "release_emergency_stop": {
            "robot_id": stopped.robot_id,
            "reason": "area clear",
        },
        "list_deployments": {},
        "rollback_deployment": {"robot_id": deployed.robot_id},
        "acknowledge_alert": {"alert_id": open_alert.pk},
        "resolve_alert": {"alert_id": acknowledged.pk},
        "get_fleet_summary": {},
        "list_robots": {},
        "get_robot_state": {"robot_id": robot.robot_id},
        "register_robot": {"robot_id": "arm-99"},
        "deploy_model": {
            "robot_id": robot.robot_id,
            "model_version_id": validated_model.pk,
        },
        "emergency_stop": {"robot_id": robot.robot_id},
    }


def test_declared_scopes_match_reference():
    declared = {a.name: a.scopes for a in registry.all() if a.category == "fleet"}
    assert declared == FLEET_ACTIONS


def test_emergency_stop_is_safety_risk():
    assert registry.get("emergency_stop").risk == "safety"


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
def test_no_token_is_401(call, name, valid_params):
    result = call(name, valid_params[name], token=None)
    assert result.status == 401
    assert result.body["ok"] is False


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
def test_unrelated_scope_is_403(call, make_token, org, name, valid_params):
    token = make_token(role="admin", scopes=["datasets:read"], org=org)
    result = call(name, valid_params[name], token=token)
    assert result.status == 403
    assert result.body["code"] == "permission_denied"
    for scope in FLEET_ACTIONS[name]:
        assert scope in result.body["detail"]


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
def test_annotator_role_is_403(call, make_token, org, name, valid_params):
    token = make_token(role="annotator", scopes=["*"], org=org)
    assert call(name, valid_params[name], token=token).status == 403


@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_viewer_cannot_write(call, make_token, org, name, valid_params):
    token = make_token(role="viewer", scopes=["*"], org=org)
    assert call(name, valid_params[name], token=token).status == 403


@pytest.mark.parametrize("name", READ_ACTIONS)
def test_viewer_can_read(call, make_token, org, name, valid_params):
    token = make_token(role="viewer", scopes=["*"], org=org)
    assert call(name, valid_params[name], token=token).status == 200


@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_read_scope_cannot_write(call, make_token, org, name, valid_params):
    token = make_token(role="admin", scopes=["fleet:read", "models:read"], org=org)
    assert call(name, valid_params[name], token=token).status == 403


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
def test_operator_may_run(call, make_token, org, name, valid_params):
    token = make_token(role="operator", scopes=["*"], org=org)
    assert call(name, valid_params[name], token=token).status == 200


def test_deploy_needs_models_read_too(call, make_token, org, valid_params):
    token = make_token(role="admin", scopes=["fleet:write"], org=org)
    result = call("deploy_model", valid_params["deploy_model"], token=token)
    assert result.status == 403
    assert "models:read" in result.body["detail"]


def test_deploy_needs_fleet_write_too(call, make_token, org, valid_params):
    token = make_token(role="admin", scopes=["models:read", "fleet:read"], org=org)
    result = call("deploy_model", valid_params["deploy_model"], token=token)
    assert result.status == 403
    assert "fleet:write" in result.body["detail"]


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
def test_unknown_param_is_400(call, name, valid_params):
    result = call(name, valid_params[name] | {"colour": "red"})
    assert result.status == 400
    assert "colour" in result.body["errors"]


@pytest.mark.parametrize("name", sorted(FLEET_ACTIONS))
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_number_is_400(call, name, number):
    body = '{"params": {"limit": ' + number + "}}"
    result = call(name, body=body)
    assert result.status == 400
    assert result.body["ok"] is False


@pytest.mark.parametrize("name", ["get_robot_state", "emergency_stop", "deploy_model"])
@pytest.mark.parametrize("robot_id", [1, 1.5, True, None, ["arm-01"], {"id": "arm-01"}])
def test_robot_id_wrong_type_is_400(call, name, robot_id, valid_params):
    params = valid_params[name] | {"robot_id": robot_id}
    result = call(name, params)
    assert result.status == 400
    assert "robot_id" in result.body["errors"]


@pytest.mark.parametrize("name", ["get_robot_state", "emergency_stop", "deploy_model"])
@pytest.mark.parametrize("robot_id", ["arm 01", "arm/01", "", "ärm-01", "a" * 101])
def test_robot_id_not_slug_is_400(call, name, robot_id, valid_params):
    params = valid_params[name] | {"robot_id": robot_id}
    result = call(name, params)
    assert result.status == 400
    assert "robot_id" in result.body["errors"]


@pytest.mark.parametrize("name", ["get_robot_state", "emergency_stop", "deploy_model"])
def test_other_org_robot_is_404(call, name, other_org, valid_params):
    from tests.factories import RobotFactory

    RobotFactory(org=other_org, robot_id="foreign-arm")
    params = valid_params[name] | {"robot_id": "foreign-arm"}
    result = call(name, params)
    assert result.status == 404
    assert result.body["code"] == "robot_not_found"


@pytest.mark.parametrize("name", ["get_robot_state", "emergency_stop", "deploy_model"])
def test_unknown_robot_is_404(call, name, valid_params):
    result = call(name, valid_params[name] | {"robot_id": "arm-404"})
    assert result.status == 404
    assert "arm-404" in result.body["detail"]


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("get_robot_state", "robot_id"),
        ("register_robot", "robot_id"),
        ("deploy_model", "robot_id"),
        ("deploy_model", "model_version_id"),
        ("emergency_stop", "robot_id"),
    ],
)
def test_missing_required_param_is_400(call, name, required, valid_params):
    params = dict(valid_params[name])
    del params[required]
    result = call(name, params)
    assert result.status == 400
    assert required in result.body["errors"]


def test_deploy_other_org_model_is_404(call, robot, other_org):
    foreign = ModelVersionFactory(org=other_org, status="validated")
    result = call(
        "deploy_model", {"robot_id": robot.robot_id, "model_version_id": foreign.pk}
    )
    assert result.status == 404
    assert result.body["code"] == "modelversion_not_found"
