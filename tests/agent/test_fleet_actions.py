"""Fleet actions around the agent: release, rollback, deployments and alerts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.agent import services as agent_services
from fleet.models import Deployment, Robot, RobotCommand
from tests.factories import (
    AlertFactory,
    DeploymentFactory,
    ModelVersionFactory,
    RobotCommandFactory,
    RobotFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def robot(org):
    return RobotFactory(org=org, robot_id="arm-01")


def _succeeded(robot, model_version, minutes_ago):
    return DeploymentFactory(
        robot=robot,
        model_version=model_version,
        status="succeeded",
        finished_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def _versions(org, count):
    return [
        ModelVersionFactory(
            org=org,
            name="pick",
            version=number,
            status="deployed",
            artifact_uri=f"models/pick/{number}.npz",
        )
        for number in range(1, count + 1)
    ]


def test_release_queues_command_robot_stays_stopped(call, robot):
    call("emergency_stop", {"robot_id": "arm-01"})

    result = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "clear"})

    assert result.status == 200
    assert result.data["command"]["kind"] == "release_emergency_stop"
    assert result.data["command"]["status"] == "queued"
    robot.refresh_from_db()
    assert robot.estopped is True


def test_release_repeated_returns_same_command(call, robot):
    call("emergency_stop", {"robot_id": "arm-01"})
    first = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "a"})
    second = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "b"})
    assert second.data["command"]["id"] == first.data["command"]["id"]


def test_release_not_stopped_is_409(call, robot):
    result = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "x"})
    assert result.status == 409
    assert result.body["code"] == "robot_not_estopped"


@pytest.mark.parametrize("params", [{}, {"reason": ""}, {"reason": "   "}])
def test_release_without_reason_is_400(call, robot, params):
    call("emergency_stop", {"robot_id": "arm-01"})
    result = call("release_emergency_stop", {"robot_id": "arm-01"} | params)
    assert result.status == 400
    assert "reason" in result.body["errors"]


def test_stop_cancels_pending_release(call, robot):
    call("emergency_stop", {"robot_id": "arm-01"})
    release = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "x"})

    call("emergency_stop", {"robot_id": "arm-01"})

    command = RobotCommand.objects.get(pk=release.data["command"]["id"])
    assert command.status == "cancelled"


def test_release_is_audited_as_safety(call, robot):
    from centeros.actions import registry
    from centeros.models import AuditLogEntry

    call("emergency_stop", {"robot_id": "arm-01"})
    call("release_emergency_stop", {"robot_id": "arm-01", "reason": "area clear"})

    assert registry.get("release_emergency_stop").risk == "safety"
    event = AuditLogEntry.objects.filter(action="release_emergency_stop").get()
    assert event.params["reason"] == "area clear"


def test_stop_delivered_before_queued_commands(robot):
    deploy = RobotCommandFactory(robot=robot, kind="deploy", priority=100)
    stop = RobotCommandFactory(robot=robot, kind="emergency_stop", priority=1000)

    delivered = agent_services.robot_commands_deliver(robot_pk=robot.pk)

    assert [c["id"] for c in delivered] == [stop.pk, deploy.pk]
    assert delivered[0]["expires_at"] is not None
    assert agent_services.robot_commands_deliver(robot_pk=robot.pk) == []


def test_ack_timeouts_per_kind(robot, settings):
    stop = RobotCommandFactory(robot=robot, kind="emergency_stop", priority=1000)
    deploy = RobotCommandFactory(robot=robot, kind="deploy", priority=100)

    agent_services.robot_commands_deliver(robot_pk=robot.pk)

    stop.refresh_from_db()
    deploy.refresh_from_db()
    timeouts = settings.CENTEROS_COMMAND_ACK_TIMEOUTS
    assert stop.expires_at - stop.delivered_at == timedelta(
        seconds=timeouts["emergency_stop"]
    )
    assert deploy.expires_at - deploy.delivered_at == timedelta(
        seconds=timeouts["deploy"]
    )


def test_rollback_redeploys_previous_version(call, org, robot):
    first, second = _versions(org, 2)
    _succeeded(robot, first, minutes_ago=20)
    current = _succeeded(robot, second, minutes_ago=10)

    result = call("rollback_deployment", {"robot_id": "arm-01"})

    assert result.status == 200, result
    assert result.data["model_version"]["id"] == first.pk
    assert result.data["status"] == "pending"
    assert result.data["command"]["kind"] == "deploy"
    assert result.data["rolled_back_deployment"]["id"] == current.pk
    current.refresh_from_db()
    assert current.status == "rolled_back"


def test_rollback_without_previous_is_409(call, org, robot):
    (only,) = _versions(org, 1)
    _succeeded(robot, only, minutes_ago=10)
    _succeeded(robot, only, minutes_ago=5)

    result = call("rollback_deployment", {"robot_id": "arm-01"})

    assert result.status == 409
    assert result.body["code"] == "no_previous_deployment"


def test_rollback_stopped_robot_is_409(call, org, robot):
    first, second = _versions(org, 2)
    _succeeded(robot, first, minutes_ago=20)
    _succeeded(robot, second, minutes_ago=10)
    call("emergency_stop", {"robot_id": "arm-01"})

    result = call("rollback_deployment", {"robot_id": "arm-01"})

    assert result.status == 409
    assert result.body["code"] == "robot_estopped"


def test_rollback_other_org_robot_is_404(call, other_org):
    RobotFactory(org=other_org, robot_id="foreign")
    result = call("rollback_deployment", {"robot_id": "foreign"})
    assert result.status == 404


def test_list_deployments_filters(call, org, robot, other_org):
    first, second = _versions(org, 2)
    other_robot = RobotFactory(org=org, robot_id="arm-02")
    _succeeded(robot, first, minutes_ago=20)
    DeploymentFactory(robot=robot, model_version=second, status="failed")
    _succeeded(other_robot, second, minutes_ago=5)
    DeploymentFactory(robot=RobotFactory(org=other_org))

    everything = call("list_deployments", {}).body
    by_robot = call("list_deployments", {"robot_id": "arm-02"}).data
    by_status = call("list_deployments", {"status": "failed"}).data
    by_version = call("list_deployments", {"model_version_id": first.pk}).data
    by_name = call("list_deployments", {"model_name": "pick", "limit": 1}).body

    assert everything["meta"]["total"] == 3
    assert [d["robot_id"] for d in by_robot] == ["arm-02"]
    assert [d["status"] for d in by_status] == ["failed"]
    assert [d["model_version"]["id"] for d in by_version] == [first.pk]
    assert by_name["meta"]["total"] == 3
    assert len(by_name["data"]) == 1


def test_list_deployments_invalid_status_is_400(call):
    result = call("list_deployments", {"status": "done"})
    assert result.status == 400
    assert "status" in result.body["errors"]


def test_list_deployments_query_count_flat(call, org):
    from tests.fleet.conftest import count_queries

    for _ in range(3):
        DeploymentFactory(robot=RobotFactory(org=org))
    # The first call of a token also records its last use.
    call("list_deployments")
    few = count_queries(call, "list_deployments")
    for _ in range(30):
        DeploymentFactory(robot=RobotFactory(org=org))
    assert count_queries(call, "list_deployments") == few


def test_alert_acknowledge_then_resolve(call, robot):
    alert = AlertFactory(robot=robot)

    acknowledged = call("acknowledge_alert", {"alert_id": alert.pk})
    resolved = call("resolve_alert", {"alert_id": alert.pk})

    assert acknowledged.status == 200
    assert acknowledged.data["status"] == "acknowledged"
    assert acknowledged.data["acknowledged_at"] is not None
    assert resolved.status == 200
    assert resolved.data["status"] == "resolved"
    assert resolved.data["resolved_at"] is not None


def test_alert_disallowed_transitions_are_409(call, robot):
    open_alert = AlertFactory(robot=robot, code="E_OPEN")
    resolved = AlertFactory(robot=robot, code="E_DONE", status="resolved")
    acknowledged = AlertFactory(robot=robot, code="E_ACK", status="acknowledged")

    cases = [
        ("resolve_alert", open_alert),
        ("resolve_alert", resolved),
        ("acknowledge_alert", resolved),
        ("acknowledge_alert", acknowledged),
    ]
    for name, alert in cases:
        result = call(name, {"alert_id": alert.pk})
        assert result.status == 409, (name, alert.status)
        assert result.body["code"] == "invalid_transition"


@pytest.mark.parametrize("name", ["acknowledge_alert", "resolve_alert"])
def test_alert_other_org_is_404(call, other_org, name):
    alert = AlertFactory(robot=RobotFactory(org=other_org))
    result = call(name, {"alert_id": alert.pk})
    assert result.status == 404


@pytest.mark.parametrize("alert_id", ["1", 1.5, True, None, 0, 2**63])
def test_alert_id_invalid_is_400(call, alert_id):
    result = call("acknowledge_alert", {"alert_id": alert_id})
    assert result.status == 400
    assert "alert_id" in result.body["errors"]


def test_rotate_other_org_robot_is_404(call, other_org):
    RobotFactory(org=other_org, robot_id="foreign")
    assert call("rotate_robot_token", {"robot_id": "foreign"}).status == 404


def test_fleet_summary_counts_commands(call, robot):
    RobotCommandFactory(robot=robot, status="queued")
    RobotCommandFactory(robot=robot, status="delivered")
    RobotCommandFactory(robot=robot, status="expired", expires_at=timezone.now())

    commands = call("get_fleet_summary").data["commands"]

    assert commands == {"queued": 1, "awaiting_ack": 1, "expired_last_24h": 1}


def test_deploy_ack_promotes_and_sets_current(org, robot):
    from fleet.services import deployment_create

    (version,) = _versions(org, 1)
    version.status = "validated"
    version.save()
    created = deployment_create(org=org, robot_id="arm-01", model_version_id=version.pk)
    agent_services.robot_commands_deliver(robot_pk=robot.pk)
    assert Deployment.objects.get(pk=created.deployment.pk).status == "in_progress"

    agent_services.robot_command_acknowledge(
        robot_pk=robot.pk, command_id=created.command.pk, succeeded=True
    )

    version.refresh_from_db()
    assert version.status == "deployed"
    assert Robot.objects.get(pk=robot.pk).current_model_version_id == version.pk
