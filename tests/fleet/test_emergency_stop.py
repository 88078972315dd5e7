"""emergency_stop: committed, idempotent, cancels deployments, never throttled."""

import threading

import pytest
from django.db import connection

from fleet.models import Deployment, Robot, RobotCommand
from tests.factories import DeploymentFactory, RobotCommandFactory, RobotFactory

pytestmark = pytest.mark.django_db


def stop(call, robot_id="arm-01", **params):
    return call("emergency_stop", {"robot_id": robot_id} | params)


def stop_commands(robot):
    return RobotCommand.objects.filter(robot=robot, kind="emergency_stop")


def test_stop_marks_robot_estopped(call, robot):
    data = stop(call, reason="safety_check").data

    robot.refresh_from_db()
    assert robot.estopped is True
    assert robot.estopped_at is not None
    assert robot.estop_reason == "safety_check"
    assert robot.status == "estopped"
    assert data["estopped"] is True
    assert data["reason"] == "safety_check"
    assert data["already_estopped"] is False


def test_stop_queues_highest_priority_command(call, robot):
    RobotCommandFactory(robot=robot, kind="deploy", priority=100, status="succeeded")
    data = stop(call, reason="safety_check").data

    command = RobotCommand.objects.get(pk=data["command"]["id"])
    assert command.kind == "emergency_stop"
    assert command.priority == 1000
    assert command.status == "queued"
    assert command.payload == {"reason": "safety_check"}
    assert command.priority > max(
        c.priority for c in RobotCommand.objects.exclude(pk=command.pk)
    )


def test_stop_is_idempotent(call, robot):
    first = stop(call, reason="person in cell").data
    second = stop(call, reason="pressed twice").data

    assert second["already_estopped"] is True
    assert second["command"]["id"] == first["command"]["id"]
    assert second["estopped_at"] == first["estopped_at"]
    assert second["reason"] == "person in cell"
    assert stop_commands(robot).count() == 1


def test_repeat_stop_reuses_executed_command(call, robot):
    first = stop(call).data
    RobotCommand.objects.filter(pk=first["command"]["id"]).update(status="succeeded")

    second = stop(call).data

    assert second["command"]["id"] == first["command"]["id"]
    assert second["command"]["status"] == "succeeded"
    assert stop_commands(robot).count() == 1


@pytest.mark.parametrize("status", ["failed", "expired"])
def test_repeat_stop_replaces_lost_command(call, robot, status):
    first = stop(call).data
    RobotCommand.objects.filter(pk=first["command"]["id"]).update(status=status)

    second = stop(call).data

    assert second["command"]["id"] != first["command"]["id"]
    assert second["command"]["status"] == "queued"
    assert stop_commands(robot).filter(status="queued").count() == 1


def test_stop_cancels_active_deployments(call, robot):
    pending_command = RobotCommandFactory(robot=robot, kind="deploy", status="queued")
    pending = DeploymentFactory(robot=robot, status="pending", command=pending_command)
    running_command = RobotCommandFactory(
        robot=robot, kind="deploy", status="delivered"
    )
    running = DeploymentFactory(
        robot=robot, status="in_progress", command=running_command
    )
    finished = DeploymentFactory(robot=robot, status="succeeded")

    data = stop(call).data

    assert sorted(data["cancelled_deployment_ids"]) == sorted([pending.pk, running.pk])
    for deployment in (pending, running):
        deployment.refresh_from_db()
        assert deployment.status == "cancelled"
        assert deployment.finished_at is not None
        assert "emergency stop" in deployment.error
    for command in (pending_command, running_command):
        command.refresh_from_db()
        assert command.status == "cancelled"
    finished.refresh_from_db()
    assert finished.status == "succeeded"


def test_stop_after_deploy_cancels_it(call, robot, validated_model):
    deployed = call(
        "deploy_model", {"robot_id": "arm-01", "model_version_id": validated_model.pk}
    ).data

    stop(call)

    assert Deployment.objects.get(pk=deployed["id"]).status == "cancelled"
    assert RobotCommand.objects.get(pk=deployed["command_id"]).status == "cancelled"


def test_stop_leaves_other_robots(call, org, robot):
    other = RobotFactory(org=org, robot_id="arm-02")
    other_deployment = DeploymentFactory(robot=other, status="pending")

    stop(call)

    other.refresh_from_db()
    other_deployment.refresh_from_db()
    assert other.estopped is False
    assert other_deployment.status == "pending"
    assert not stop_commands(other).exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reason": 5}, "reason"),
        ({"reason": ["a"]}, "reason"),
        ({"reason": "r" * 501}, "reason"),
    ],
)
def test_stop_invalid_params_are_400(call, robot, params, field):
    result = stop(call, **params)
    assert result.status == 400
    assert field in result.body["errors"]
    robot.refresh_from_db()
    assert robot.estopped is False


def test_stop_is_not_throttled(call, robot, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"actions": "2/min"}
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": rates
    }

    statuses = [stop(call).status for _ in range(6)]
    assert statuses == [200] * 6

    reads = [call("list_robots").status for _ in range(3)]
    assert reads[-1] == 429


@pytest.mark.django_db(transaction=True)
def test_stop_is_committed_before_response(call, org):
    RobotFactory(org=org, robot_id="arm-01")
    assert stop(call).status == 200

    # Read from a second connection, which reads only committed rows.
    seen = {}

    def read():
        try:
            robot = Robot.objects.get(org=org, robot_id="arm-01")
            seen["estopped"] = robot.estopped
            seen["commands"] = stop_commands(robot).count()
        finally:
            connection.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == {"estopped": True, "commands": 1}
