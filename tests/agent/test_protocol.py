"""The agent endpoints over HTTP: authentication, heartbeats and acknowledgements."""

import io
import time
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from fleet.agent import services as agent_services
from fleet.models import Alert, Heartbeat, Robot, RobotCommand
from fleet.services import deployment_create, robot_register
from tests.agent.conftest import LiveServer
from tests.factories import ModelVersionFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


class Agent:
    """Raw protocol calls for one token, to test the endpoints themselves."""

    def __init__(self, server: LiveServer, token: str):
        self.http = httpx.Client(
            base_url=f"{server.url}/api/agent/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )

    def heartbeat(self, **body):
        return self.http.post("/heartbeat", json=body)

    def commands(self, wait=0):
        return self.http.get("/commands", params={"wait": wait})

    def ack(self, command_id, status="succeeded", message=""):
        return self.http.post(
            f"/commands/{command_id}/ack", json={"status": status, "message": message}
        )


@pytest.fixture
def agent(server, registered_robot):
    return Agent(server, registered_robot[1])


def test_pat_on_agent_endpoint_is_401(server, admin_token):
    for path in ("heartbeat", "commands"):
        method = "POST" if path == "heartbeat" else "GET"
        response = httpx.request(
            method,
            f"{server.url}/api/agent/v1/{path}",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={} if method == "POST" else None,
        )
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_jwt_on_agent_endpoint_is_401(server, org, make_token):
    from orgs.views import _token_pair

    make_token(role="admin", org=org)
    access = _token_pair(make_token.last.owner, org)["access_token"]

    headers = {"Authorization": f"Bearer {access}"}
    response = httpx.get(f"{server.url}/api/agent/v1/commands", headers=headers)
    valid = httpx.post(
        f"{server.url}/api/actions/list_robots", json={"params": {}}, headers=headers
    )

    assert response.status_code == 401
    assert valid.status_code == 200


def test_missing_or_unknown_robot_token_is_401(server):
    assert httpx.get(f"{server.url}/api/agent/v1/commands").status_code == 401
    unknown = "frr_" + "x" * 43
    response = httpx.get(
        f"{server.url}/api/agent/v1/commands",
        headers={"Authorization": f"Bearer {unknown}"},
    )
    assert response.status_code == 401


def test_robot_token_on_action_is_401(call, registered_robot):
    _, token = registered_robot
    result = call("list_robots", {}, token=token)
    assert result.status == 401


def test_rotated_token_replaces_old(call, server, registered_robot):
    _, old_token = registered_robot

    result = call("rotate_robot_token", {"robot_id": "arm-01"})

    assert result.status == 200
    new_token = result.data["token"]
    assert new_token.startswith("frr_")
    assert Agent(server, old_token).heartbeat().status_code == 401
    assert Agent(server, new_token).heartbeat().status_code == 200
    assert Robot.objects.get(robot_id="arm-01").token_prefix == new_token[:12]


def test_heartbeat_updates_robot(call, agent):
    response = agent.heartbeat(
        battery=87.5,
        pose={"x": 1.0, "y": 2.0},
        software_version="2.1.0",
        model_version="pick-policy:3",
        idle=True,
    )

    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert body["estopped"] is False
    robot = Robot.objects.get(robot_id="arm-01")
    assert robot.battery == 87.5
    assert robot.pose == {"x": 1.0, "y": 2.0}
    assert robot.idle is True
    assert robot.reported_model_version == "pick-policy:3"
    state = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert state["status"] == "online"
    assert state["heartbeat_age_seconds"] < 5
    assert state["last_heartbeat"]["software_version"] == "2.1.0"


def test_heartbeat_faults_open_dedupe_resolve(call, agent):
    overheat = {"code": "E_MOTOR_TEMP", "severity": "warning", "message": "82 C"}
    lidar = {"code": "E_LIDAR", "severity": "critical", "message": "no scans"}

    first = agent.heartbeat(faults=[overheat, lidar]).json()["data"]
    agent.heartbeat(faults=[overheat | {"message": "85 C"}, lidar])

    assert len(first["opened_alert_ids"]) == 2
    alerts = {a.code: a for a in Alert.objects.filter(robot__robot_id="arm-01")}
    assert alerts["E_MOTOR_TEMP"].occurrences == 2
    assert alerts["E_MOTOR_TEMP"].message == "85 C"
    assert alerts["E_LIDAR"].status == "open"
    assert Robot.objects.get(robot_id="arm-01").mode == "error"
    state = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert state["open_alerts_by_severity"] == {"info": 0, "warning": 1, "critical": 1}
    summary = call("get_fleet_summary").data
    assert summary["alerts"]["open_by_severity"]["critical"] == 1

    last = agent.heartbeat(faults=[overheat]).json()["data"]

    assert last["resolved_alert_ids"] == [alerts["E_LIDAR"].pk]
    assert Alert.objects.get(code="E_LIDAR").status == "resolved"
    assert Alert.objects.get(code="E_MOTOR_TEMP").status == "open"
    assert Robot.objects.get(robot_id="arm-01").mode == "normal"


def test_fault_after_resolution_opens_new_alert(agent):
    fault = {"code": "E_GRIP", "severity": "info"}
    agent.heartbeat(faults=[fault])
    agent.heartbeat(faults=[])
    agent.heartbeat(faults=[fault])

    alerts = Alert.objects.filter(code="E_GRIP").order_by("id")
    assert [a.status for a in alerts] == ["resolved", "open"]


# One live test per table of cases: each live test pays for a database flush.
INVALID_HEARTBEATS = [
    ({"battery": 101}, "battery"),
    ({"battery": -1}, "battery"),
    ({"battery": "50"}, "battery"),
    ({"idle": "yes"}, "idle"),
    ({"pose": [1, 2]}, "pose"),
    ({"faults": [{"code": "E", "severity": "fatal"}]}, "faults.0.severity"),
    ({"faults": [{"severity": "info"}]}, "faults.0.code"),
    ({"faults": "E1"}, "faults"),
    ({"model_version": 1.5}, "model_version"),
    ({"colour": "red"}, "colour"),
]


def test_heartbeat_invalid_field_is_400(agent):
    for body, field in INVALID_HEARTBEATS:
        response = agent.heartbeat(**body)
        assert response.status_code == 400, body
        assert field in response.json()["errors"], body
    assert Heartbeat.objects.count() == 0


def test_heartbeat_invalid_json_is_400(agent):
    for raw in ['{"battery": NaN}', '{"battery": 1e400}', "[1]", "{"]:
        response = agent.http.post(
            "/heartbeat", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
        assert response.json()["ok"] is False, raw


def test_commands_invalid_wait_is_400(agent):
    for wait in ["abc", "-1", "31", "nan"]:
        response = agent.commands(wait=wait)
        assert response.status_code == 400, wait
        assert "wait" in response.json()["errors"], wait


def test_empty_poll_waits_then_returns(agent):
    started = time.monotonic()
    response = agent.commands(wait=1)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["data"]["commands"] == []
    # The server may end a poll up to 10% early to spread re-polls.
    assert 0.85 < elapsed < 4


def test_ack_other_robot_command_is_404(call, server, org, agent):
    robot_register(org=org, robot_id="arm-02")
    result = call("emergency_stop", {"robot_id": "arm-02"})

    response = agent.ack(result.data["command"]["id"])

    assert response.status_code == 404


def test_ack_twice_is_409(call, agent):
    result = call("emergency_stop", {"robot_id": "arm-01"})
    command_id = result.data["command"]["id"]
    assert agent.ack(command_id).status_code == 409  # not delivered yet
    delivered = agent.commands().json()["data"]["commands"]
    assert [c["id"] for c in delivered] == [command_id]

    first = agent.ack(command_id)
    second = agent.ack(command_id)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "already_acknowledged"


def test_ack_invalid_status_is_400(call, agent):
    result = call("emergency_stop", {"robot_id": "arm-01"})
    response = agent.ack(result.data["command"]["id"], status="done")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_failed_stop_opens_critical_alert(call, agent):
    result = call("emergency_stop", {"robot_id": "arm-01"})
    command_id = result.data["command"]["id"]
    agent.commands()

    response = agent.ack(command_id, status="failed", message="brake fault")

    assert response.status_code == 200
    alert = Alert.objects.get(code="emergency_stop_failed")
    assert alert.severity == "critical"
    assert alert.source == "server"
    assert "brake fault" in alert.message
    # A server alert is not resolved by a heartbeat without faults.
    agent.heartbeat(faults=[])
    alert.refresh_from_db()
    assert alert.status == "open"


def test_expired_command_shown_and_ack_rejected(call, agent):
    result = call("emergency_stop", {"robot_id": "arm-01"})
    command_id = result.data["command"]["id"]
    delivered = agent.commands().json()["data"]["commands"]
    assert delivered[0]["expires_at"] is not None
    RobotCommand.objects.filter(pk=command_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = agent.ack(command_id)

    assert response.status_code == 409
    assert response.json()["code"] == "command_expired"
    state = call("get_robot_state", {"robot_id": "arm-01"}).data
    assert state["recent_commands"][0]["status"] == "expired"
    # The robot stays stopped, and a new stop replaces the expired command.
    again = call("emergency_stop", {"robot_id": "arm-01"})
    assert again.data["command"]["id"] != command_id


def test_expire_command_fails_deployment(org, registered_robot):
    model = ModelVersionFactory(
        org=org, status="validated", artifact_uri="https://models.example/pick.npz"
    )
    created = deployment_create(org=org, robot_id="arm-01", model_version_id=model.pk)
    robot = created.deployment.robot
    agent_services.robot_commands_deliver(robot_pk=robot.pk)
    RobotCommand.objects.filter(pk=created.command.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    output = io.StringIO()
    call_command("expire_robot_commands", stdout=output)

    assert output.getvalue().strip() == "Expired 1 robot command(s)."
    assert RobotCommand.objects.get(pk=created.command.pk).status == "expired"
    created.deployment.refresh_from_db()
    assert created.deployment.status == "failed"
    assert "in time" in created.deployment.error


def test_heartbeat_history_is_pruned(settings, registered_robot):
    settings.CENTEROS_HEARTBEAT_HISTORY = 3
    robot, _ = registered_robot
    for battery in range(5):
        agent_services.robot_heartbeat_record(
            robot_pk=robot.pk,
            report=agent_services.HeartbeatReport(battery=float(battery)),
        )

    batteries = Heartbeat.objects.filter(robot=robot).values_list("battery", flat=True)
    assert sorted(batteries) == [2.0, 3.0, 4.0]


def test_cli_has_agent_command():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "centeros.cli.main", "agent", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CENTEROS_API_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "simulated robot" in result.stdout


def test_artifact_key_of_other_org_is_not_signed():
    from fleet.agent.services import artifact_download

    rejected = artifact_download("artifacts/1/abc/model.npz", org_id=2)
    climbing = artifact_download("artifacts/2/../1/abc/model.npz", org_id=2)
    external = artifact_download("s3://bucket/model.npz", org_id=2)
    assert rejected["artifact_url"] is None
    assert climbing["artifact_url"] is None
    assert external["artifact_url"] == "s3://bucket/model.npz"


def test_heartbeat_nested_too_deeply_is_400(client, registered_robot):
    _, token = registered_robot
    pose = "[" * 2000 + "]" * 2000
    response = client.post(
        "/api/agent/v1/heartbeat",
        data='{"battery": 50, "pose": {"x": ' + pose + "}}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
