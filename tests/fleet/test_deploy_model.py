"""deploy_model: deployable versions only, never to a stopped robot."""

import pytest

from fleet.models import Deployment, RobotCommand
from tests.factories import DeploymentFactory, ModelVersionFactory, RobotCommandFactory

pytestmark = pytest.mark.django_db


def deploy(call, robot, model_version, **params):
    return call(
        "deploy_model",
        {"robot_id": robot.robot_id, "model_version_id": model_version.pk} | params,
    )


def test_deploy_creates_pending_deployment(call, robot, validated_model):
    data = deploy(call, robot, validated_model, strategy="on_idle").data

    deployment = Deployment.objects.get(pk=data["id"])
    assert deployment.status == "pending"
    assert deployment.robot == robot
    assert deployment.model_version == validated_model
    assert deployment.strategy == "on_idle"
    assert deployment.created_by is not None
    assert data["status"] == "pending"
    assert data["robot_id"] == "arm-01"
    assert data["model_version"]["version"] == 3
    assert data["superseded_deployment_ids"] == []


def test_deploy_queues_command(call, robot, validated_model):
    data = deploy(call, robot, validated_model).data

    command = RobotCommand.objects.get(pk=data["command"]["id"])
    assert data["command_id"] == command.pk
    assert command.kind == "deploy"
    assert command.priority == 100
    assert command.status == "queued"
    assert command.robot == robot
    assert command.payload == {
        "deployment_id": data["id"],
        "model_version_id": validated_model.pk,
        "name": "pick-policy",
        "version": 3,
        "artifact_uri": "artifacts/pick-policy/3/model.npz",
        "artifact_sha256": "ab" * 32,
        "strategy": "immediate",
    }


def test_deploy_deployed_version(call, org, robot):
    deployed = ModelVersionFactory(org=org, status="deployed")
    assert deploy(call, robot, deployed).status == 200


@pytest.mark.parametrize("status", ["draft", "retired"])
def test_deploy_undeployable_version_is_409(call, org, robot, status):
    model_version = ModelVersionFactory(org=org, status=status)
    result = deploy(call, robot, model_version)
    assert result.status == 409
    assert result.body["code"] == "model_not_deployable"
    assert f"is {status}" in result.body["detail"]
    assert not Deployment.objects.exists()
    assert not RobotCommand.objects.exists()


def test_deploy_version_without_artifact_is_409(call, org, robot):
    model_version = ModelVersionFactory(org=org, status="validated", artifact_uri="")
    result = deploy(call, robot, model_version)
    assert result.status == 409
    assert result.body["code"] == "model_has_no_artifact"


def test_deploy_to_estopped_robot_is_409(call, robot, validated_model):
    robot.estopped = True
    robot.save()
    result = deploy(call, robot, validated_model)
    assert result.status == 409
    assert result.body["code"] == "robot_estopped"
    assert "arm-01" in result.body["detail"]
    assert not Deployment.objects.exists()


def test_deploy_after_emergency_stop_is_409(call, robot, validated_model):
    assert call("emergency_stop", {"robot_id": "arm-01"}).status == 200
    assert deploy(call, robot, validated_model).status == 409


def test_deploy_supersedes_pending(call, robot, validated_model):
    first = deploy(call, robot, validated_model).data
    second = deploy(call, robot, validated_model).data

    assert second["superseded_deployment_ids"] == [first["id"]]
    old = Deployment.objects.get(pk=first["id"])
    assert old.status == "cancelled"
    assert "Superseded" in old.error
    assert RobotCommand.objects.get(pk=first["command_id"]).status == "cancelled"
    assert RobotCommand.objects.get(pk=second["command_id"]).status == "queued"


def test_deploy_while_in_progress_is_409(call, robot, validated_model):
    running = DeploymentFactory(robot=robot, status="in_progress")
    result = deploy(call, robot, validated_model)
    assert result.status == 409
    assert result.body["code"] == "deployment_in_progress"
    assert str(running.pk) in result.body["detail"]
    assert Deployment.objects.count() == 1


def test_deploy_leaves_other_commands(call, robot, validated_model):
    other = RobotCommandFactory(robot=robot, kind="deploy", status="succeeded")
    deploy(call, robot, validated_model)
    other.refresh_from_db()
    assert other.status == "succeeded"


def test_deploy_unknown_model_version_is_404(call, robot):
    result = call("deploy_model", {"robot_id": "arm-01", "model_version_id": 999999})
    assert result.status == 404
    assert "999999" in result.body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"model_version_id": "5"}, "model_version_id"),
        ({"model_version_id": 5.0}, "model_version_id"),
        ({"model_version_id": True}, "model_version_id"),
        ({"model_version_id": 0}, "model_version_id"),
        ({"model_version_id": -3}, "model_version_id"),
        ({"model_version_id": 2**63}, "model_version_id"),
        ({"model_version_id": 2**90}, "model_version_id"),
        ({"strategy": "later"}, "strategy"),
        ({"strategy": 1}, "strategy"),
    ],
)
def test_deploy_invalid_params_are_400(call, robot, validated_model, params, field):
    result = deploy(call, robot, validated_model, **params)
    assert result.status == 400
    assert field in result.body["errors"]
    assert not Deployment.objects.exists()
