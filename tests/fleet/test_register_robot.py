"""register_robot and robot tokens: shown once, stored only as a keyed hash."""

import pytest
from django.db import connection

from centeros import credentials
from fleet.models import Robot
from fleet.services import ROBOT_TOKEN_SALT, robot_authenticate_token
from tests.factories import RobotFactory

pytestmark = pytest.mark.django_db


def register(call, **params):
    return call("register_robot", {"robot_id": "arm-01"} | params)


def test_register_returns_robot_and_token(call, org):
    data = register(
        call,
        name="Lab Arm 1",
        robot_type="arm",
        site="lab-1",
        metadata={"serial": "SN-4411", "joints": 7},
    ).data

    assert data["robot_id"] == "arm-01"
    assert data["name"] == "Lab Arm 1"
    assert data["robot_type"] == "arm"
    assert data["site"] == "lab-1"
    assert data["metadata"] == {"serial": "SN-4411", "joints": 7}
    assert data["status"] == "offline"
    assert data["token"].startswith("frr_")
    assert len(data["token"]) >= 4 + 43
    assert data["token_prefix"] == data["token"][:12]


def test_register_stores_robot_in_caller_org(call, org):
    register(call)
    robot = Robot.objects.get(robot_id="arm-01")
    assert robot.org == org
    assert robot.created_by is not None


def test_register_stores_only_token_hash(call):
    token = register(call).data["token"]
    robot = Robot.objects.get(robot_id="arm-01")

    assert robot.token_hash == credentials.token_hash(token, salt=ROBOT_TOKEN_SALT)
    secret_part = token[len("frr_") :]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM fleet_robot WHERE id = %s", [robot.pk])
        row = cursor.fetchone()
    for value in row:
        assert token not in str(value)
        assert secret_part[8:] not in str(value)


def test_token_not_shown_again(call):
    token = register(call).data["token"]
    state = call("get_robot_state", {"robot_id": "arm-01"}).body
    listing = call("list_robots").body
    assert token not in str(state)
    assert token not in str(listing)
    assert "token" not in state["data"]


def test_tokens_differ_per_robot(call):
    first = register(call).data["token"]
    second = register(call, robot_id="arm-02").data["token"]
    assert first != second


def test_authenticate_token_finds_robot(call):
    token = register(call).data["token"]
    robot = robot_authenticate_token(token)
    assert robot is not None
    assert robot.robot_id == "arm-01"


@pytest.mark.parametrize(
    "presented",
    [
        "frr_" + "x" * 43,
        "frl_" + "x" * 43,
        "frr_short",
        "",
    ],
)
def test_authenticate_rejects_unknown_tokens(call, presented):
    register(call)
    assert robot_authenticate_token(presented) is None


def test_authenticate_rejects_pat(call, admin_token):
    register(call)
    assert robot_authenticate_token(admin_token) is None


def test_authenticate_after_key_rotation(call, settings):
    token = register(call).data["token"]
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a-new-secret-key-for-rotation-" + "k" * 30
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert robot_authenticate_token(token).robot_id == "arm-01"

    settings.SECRET_KEY_FALLBACKS = []
    assert robot_authenticate_token(token) is None


def test_robot_token_rejected_on_actions(call):
    token = register(call).data["token"]
    result = call("list_robots", token=token)
    assert result.status == 401


def test_register_duplicate_is_409(call):
    register(call)
    result = register(call, name="Another")
    assert result.status == 409
    assert result.body["code"] == "robot_exists"
    assert "arm-01" in result.body["detail"]
    assert Robot.objects.filter(robot_id="arm-01").count() == 1


def test_register_same_id_in_other_org(call, other_org):
    RobotFactory(org=other_org, robot_id="arm-01")
    assert register(call).status == 200


def test_register_defaults(call):
    data = register(call).data
    assert data["name"] == ""
    assert data["site"] == ""
    assert data["metadata"] == {}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"robot_id": "arm 01"}, "robot_id"),
        ({"robot_id": "arm-01!"}, "robot_id"),
        ({"robot_id": ""}, "robot_id"),
        ({"robot_id": "a" * 101}, "robot_id"),
        ({"robot_id": 7}, "robot_id"),
        ({"name": 5}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"robot_type": ["arm"]}, "robot_type"),
        ({"site": False}, "site"),
        ({"metadata": "serial=4"}, "metadata"),
        ({"metadata": ["a"]}, "metadata"),
        ({"metadata": {f"k{n}": n for n in range(201)}}, "metadata"),
    ],
)
def test_register_invalid_params_are_400(call, params, field):
    result = register(call, **params)
    assert result.status == 400
    assert field in result.body["errors"]
    assert not Robot.objects.exists()


def test_register_metadata_too_large_is_400(call):
    result = register(call, metadata={"notes": "x" * 70_000})
    assert result.status == 400
    assert "metadata" in result.body["errors"]


def test_register_non_finite_metadata_is_400(call):
    body = '{"params": {"robot_id": "arm-01", "metadata": {"gain": NaN}}}'
    assert call("register_robot", body=body).status == 400
    assert not Robot.objects.exists()


def test_register_slug_error_shows_example(call):
    result = register(call, robot_id="Lab Arm 1")
    assert result.status == 400
    assert "slug" in result.body["detail"]
    assert "'arm-01'" in result.body["detail"]
