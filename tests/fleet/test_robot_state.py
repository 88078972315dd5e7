"""get_robot_state: heartbeat, commands, alerts and deployments of one robot."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import RobotCommand
from tests.factories import (
    AlertFactory,
    DeploymentFactory,
    ModelVersionFactory,
    RobotCommandFactory,
    RobotFactory,
)
from tests.fleet.conftest import count_queries, heartbeat_ago

pytestmark = pytest.mark.django_db


def test_state_heartbeat_fields(call, org):
    model = ModelVersionFactory(
        org=org, name="pick-policy", version=4, status="deployed"
    )
    RobotFactory(
        org=org,
        robot_id="arm-01",
        last_heartbeat_at=heartbeat_ago(12),
        battery=0.82,
        pose={"x": 1.5, "y": -0.25, "theta": 0.1},
        software_version="agent 1.4.2",
        current_model_version=model,
    )

    data = call("get_robot_state", {"robot_id": "arm-01"}).data

    assert data["robot_id"] == "arm-01"
    assert data["status"] == "online"
    assert 12 <= data["heartbeat_age_seconds"] < 20
    assert data["battery"] == 0.82
    assert data["pose"] == {"x": 1.5, "y": -0.25, "theta": 0.1}
    assert data["software_version"] == "agent 1.4.2"
    assert data["current_model_version"]["version"] == 4
    assert data["heartbeat_timeout_seconds"] == 60
    assert data["estop"] == {"estopped": False, "estopped_at": None, "reason": ""}


def test_state_never_reported(call, org):
    RobotFactory(org=org, robot_id="arm-01", last_heartbeat_at=None)
    data = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert data["status"] == "offline"
    assert data["last_heartbeat_at"] is None
    assert data["heartbeat_age_seconds"] is None


def test_state_recent_commands_newest_first(call, robot):
    start = timezone.now() - timedelta(hours=1)
    for minute in range(25):
        command = RobotCommandFactory(robot=robot, status="succeeded")
        RobotCommand.objects.filter(pk=command.pk).update(
            created_at=start + timedelta(minutes=minute)
        )
    newest = RobotCommand.objects.filter(robot=robot).order_by("-created_at")[:20]

    commands = call("get_robot_state", {"robot_id": "arm-01"}).data["recent_commands"]

    assert [c["id"] for c in commands] == [c.pk for c in newest]
    assert {c["status"] for c in commands} == {"succeeded"}


def test_state_open_alerts_exclude_resolved(call, robot, other_org):
    open_alert = AlertFactory(robot=robot, status="open", severity="critical")
    acknowledged = AlertFactory(robot=robot, status="acknowledged")
    AlertFactory(robot=robot, status="resolved")
    AlertFactory(robot=RobotFactory(org=other_org, robot_id="arm-01"))

    alerts = call("get_robot_state", {"robot_id": "arm-01"}).data["open_alerts"]

    assert {a["id"] for a in alerts} == {open_alert.pk, acknowledged.pk}


def test_state_deployments(call, robot):
    now = timezone.now()
    older = DeploymentFactory(
        robot=robot, status="succeeded", finished_at=now - timedelta(days=2)
    )
    newer = DeploymentFactory(
        robot=robot, status="succeeded", finished_at=now - timedelta(days=1)
    )
    DeploymentFactory(robot=robot, status="cancelled")
    pending = DeploymentFactory(robot=robot, status="pending")

    data = call("get_robot_state", {"robot_id": "arm-01"}).data

    assert data["active_deployment"]["id"] == pending.pk
    assert data["active_deployment"]["status"] == "pending"
    assert data["current_deployment"]["id"] == newer.pk
    assert data["previous_deployment"]["id"] == older.pk
    assert data["previous_deployment"]["model_version"]["status"] == "validated"


def test_state_without_deployments(call, robot):
    data = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert data["active_deployment"] is None
    assert data["current_deployment"] is None
    assert data["previous_deployment"] is None
    assert data["recent_commands"] == []
    assert data["open_alerts"] == []


def test_state_of_same_slug_in_other_org(call, org, other_org):
    RobotFactory(org=other_org, robot_id="arm-01", name="Theirs")
    RobotFactory(org=org, robot_id="arm-01", name="Ours")
    assert call("get_robot_state", {"robot_id": "arm-01"}).data["name"] == "Ours"


def test_state_query_count_constant(call, robot):
    call("get_robot_state", {"robot_id": "arm-01"})
    RobotCommandFactory.create_batch(3, robot=robot)
    AlertFactory.create_batch(3, robot=robot)
    DeploymentFactory.create_batch(3, robot=robot, status="succeeded")
    few = count_queries(call, "get_robot_state", {"robot_id": "arm-01"})

    RobotCommandFactory.create_batch(30, robot=robot)
    AlertFactory.create_batch(30, robot=robot)
    DeploymentFactory.create_batch(30, robot=robot, status="succeeded")
    assert count_queries(call, "get_robot_state", {"robot_id": "arm-01"}) == few
