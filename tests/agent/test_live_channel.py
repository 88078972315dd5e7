"""Emergency stops, releases and deployments through live servers and the agent."""

import hashlib
import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from fleet.models import Deployment, Robot, RobotCommand
from models_registry.models import ModelVersion
from tests.agent.conftest import action_over_http, wait_connected
from tests.factories import ModelVersionFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _estopped(robot):
    return robot.estopped.is_set()


def test_connected_agent_receives_stop(call, server, registered_robot, start_agent):
    robot_row, token = registered_robot
    agent = start_agent(token, server, idle=False)
    wait_connected(agent)
    assert agent.wait_until(lambda: agent.moving.is_set(), 2)

    result = call("emergency_stop", {"robot_id": "arm-01", "reason": "person in cell"})
    answered = time.monotonic()

    assert result.status == 200
    assert agent.wait_until(lambda: _estopped(agent), 5)
    assert agent.received[0].received_monotonic - answered < 5
    assert agent.received_kinds() == ["emergency_stop"]
    command_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: command_id in agent.results, 5)
    time.sleep(0.2)
    assert not agent.moving.is_set()
    pose = dict(agent.pose)
    time.sleep(0.2)
    assert agent.pose == pose

    command = RobotCommand.objects.get(pk=command_id)
    assert command.status == "succeeded"
    assert "Motion stopped" in command.result_message


def test_stop_from_second_server(
    server, live_servers, registered_robot, start_agent, admin_token
):
    _, token = registered_robot
    agent = start_agent(token, server)
    wait_connected(agent)

    other = live_servers[1]
    response = action_over_http(
        other, admin_token, "emergency_stop", {"robot_id": "arm-01"}
    )
    answered = time.monotonic()

    assert response.status_code == 200, response.text
    assert agent.wait_until(lambda: _estopped(agent), 5)
    # SQLite servers poll every 100 ms; PostgreSQL ones are woken by NOTIFY.
    assert agent.received[0].received_monotonic - answered < 2


@pytest.mark.postgres
def test_notify_wakes_other_server(
    server, live_servers, registered_robot, start_agent, admin_token
):
    _, token = registered_robot
    agent = start_agent(token, server)
    wait_connected(agent, timeout=5)
    # Let the first poll pass the listener start, so it waits on NOTIFY alone.
    time.sleep(0.5)

    latencies = []
    for attempt in range(3):
        response = action_over_http(
            live_servers[1], admin_token, "emergency_stop", {"robot_id": "arm-01"}
        )
        answered = time.monotonic()
        assert response.status_code == 200, response.text
        expected = 2 * attempt + 1
        assert agent.wait_until(lambda n=expected: len(agent.received) == n, 5)
        latencies.append(agent.received[-1].received_monotonic - answered)

        command_id = agent.received[-1].command["id"]
        assert agent.wait_until(lambda c=command_id: c in agent.results, 5)
        release = action_over_http(
            live_servers[1],
            admin_token,
            "release_emergency_stop",
            {"robot_id": "arm-01", "reason": "test cycle"},
        )
        assert release.status_code == 200, release.text
        assert agent.wait_until(lambda: not _estopped(agent), 5)

    # The servers poll only every 5 s here, so receipt well within that
    # proves the NOTIFY path woke the waiting request.
    assert max(latencies) < 1.0, latencies


def test_offline_robot_gets_stop_on_reconnect(
    call, server, registered_robot, start_agent
):
    _, token = registered_robot
    result = call("emergency_stop", {"robot_id": "arm-01"})
    assert result.status == 200
    assert result.data["command"]["status"] == "queued"

    agent = start_agent(token, server)

    assert agent.wait_until(lambda: "emergency_stop" in agent.received_kinds(), 5)
    command_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: agent.results.get(command_id) == "succeeded", 5)


def test_release_only_after_ack(call, server, registered_robot, start_agent):
    _, token = registered_robot
    call("emergency_stop", {"robot_id": "arm-01"})
    agent = start_agent(token, server)
    assert agent.wait_until(lambda: _estopped(agent), 5)
    agent.stop(timeout=0.5)

    result = call("release_emergency_stop", {"robot_id": "arm-01", "reason": "clear"})

    assert result.status == 200
    assert result.data["estopped"] is True
    assert Robot.objects.get(robot_id="arm-01").estopped is True
    state = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert state["estopped"] is True

    agent = start_agent(token, server)
    release_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: agent.results.get(release_id) == "succeeded", 5)
    assert not _estopped(agent)
    assert Robot.objects.get(robot_id="arm-01").estopped is False
    assert agent.wait_until(lambda: agent.last_heartbeat["estopped"] is False, 5)


def _stored_model(org, data: bytes, *, sha256: str | None = None) -> ModelVersion:
    key = default_storage.save(
        f"artifacts/{org.pk}/pick-policy/model.npz", ContentFile(data)
    )
    return ModelVersionFactory(
        org=org,
        name="pick-policy",
        version=1,
        status="validated",
        artifact_uri=key,
        artifact_sha256=sha256 or hashlib.sha256(data).hexdigest(),
        artifact_size=len(data),
    )


def test_deploy_from_storage_to_deployed(
    call, org, server, registered_robot, start_agent, use_live_storage, tmp_path
):
    _, token = registered_robot
    data = b"policy-weights" * 5000
    model = _stored_model(org, data)
    agent = start_agent(token, server)
    wait_connected(agent)

    result = call("deploy_model", {"robot_id": "arm-01", "model_version_id": model.pk})

    assert result.status == 200, result
    command_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: agent.results.get(command_id) == "succeeded", 10)
    installed = tmp_path / "agent" / agent.name / "models" / f"{model.pk}.bin"
    assert installed.read_bytes() == data
    deployment = Deployment.objects.get(pk=result.data["id"])
    assert deployment.status == "succeeded"
    assert deployment.started_at is not None
    model.refresh_from_db()
    assert model.status == "deployed"
    robot = Robot.objects.get(robot_id="arm-01")
    assert robot.current_model_version_id == model.pk
    # The signed URL is made at delivery and never stored.
    assert "artifact_url" not in RobotCommand.objects.get(pk=command_id).payload
    assert agent.wait_until(lambda: agent.model_version == "pick-policy:1", 2)

    state = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert state["current_deployment"]["id"] == deployment.pk
    assert state["current_model_version"]["status"] == "deployed"


def test_deploy_checksum_mismatch_fails(
    call, org, server, registered_robot, start_agent, use_live_storage
):
    _, token = registered_robot
    model = _stored_model(org, b"weights", sha256="0" * 64)
    agent = start_agent(token, server)

    result = call("deploy_model", {"robot_id": "arm-01", "model_version_id": model.pk})

    command_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: agent.results.get(command_id) == "failed", 10)
    deployment = Deployment.objects.get(pk=result.data["id"])
    assert deployment.status == "failed"
    assert "SHA-256" in deployment.error
    model.refresh_from_db()
    assert model.status == "validated"


def test_on_idle_deploy_waits_for_idle(
    call, org, server, registered_robot, start_agent, use_live_storage
):
    _, token = registered_robot
    model = _stored_model(org, b"weights" * 100)
    agent = start_agent(token, server, idle=False)
    wait_connected(agent)

    result = call(
        "deploy_model",
        {"robot_id": "arm-01", "model_version_id": model.pk, "strategy": "on_idle"},
    )
    time.sleep(1.0)

    assert agent.received_kinds() == []
    assert Deployment.objects.get(pk=result.data["id"]).status == "pending"

    agent.idle = True
    command_id = result.data["command"]["id"]
    assert agent.wait_until(lambda: agent.results.get(command_id) == "succeeded", 10)


def test_concurrent_deploy_and_stop(
    org, live_servers, registered_robot, start_agent, admin_token, use_live_storage
):
    _, token = registered_robot
    model = _stored_model(org, b"weights" * 100)
    barrier = threading.Barrier(2)
    responses = {}

    def send(server, name, params):
        barrier.wait()
        responses[name] = action_over_http(server, admin_token, name, params)

    threads = [
        threading.Thread(
            target=send,
            args=(
                live_servers[0],
                "deploy_model",
                {"robot_id": "arm-01", "model_version_id": model.pk},
            ),
        ),
        threading.Thread(
            target=send,
            args=(live_servers[1], "emergency_stop", {"robot_id": "arm-01"}),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    assert responses["emergency_stop"].status_code == 200
    deploy = responses["deploy_model"]
    if deploy.status_code == 200:
        # The deployment committed first, so the stop cancelled it.
        deployment = Deployment.objects.get(pk=deploy.json()["data"]["id"])
        assert deployment.status == "cancelled"
    else:
        assert deploy.status_code == 409
        assert deploy.json()["code"] == "robot_estopped"

    agent = start_agent(token, live_servers[0])
    assert agent.wait_until(lambda: _estopped(agent), 5)
    time.sleep(0.5)
    assert agent.received_kinds() == ["emergency_stop"]
    assert agent.model_version == ""
