"""get_fleet_summary: robot counts by derived status, alerts, stale heartbeats."""

from collections import Counter

import pytest

from fleet.models import Robot
from tests.factories import AlertFactory, RobotFactory
from tests.fleet.conftest import (
    count_queries,
    heartbeat_ago,
    online_heartbeat,
    stale_heartbeat,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_fleet(org, other_org):
    """Robots in every status, and one of another organisation."""
    RobotFactory(org=org, robot_id="online-1", last_heartbeat_at=online_heartbeat())
    RobotFactory(org=org, robot_id="online-2", last_heartbeat_at=online_heartbeat())
    RobotFactory(org=org, robot_id="silent-1", last_heartbeat_at=heartbeat_ago(3600))
    RobotFactory(org=org, robot_id="silent-2", last_heartbeat_at=heartbeat_ago(86400))
    RobotFactory(org=org, robot_id="never-seen", last_heartbeat_at=None)
    RobotFactory(
        org=org, robot_id="stopped", estopped=True, last_heartbeat_at=online_heartbeat()
    )
    RobotFactory(
        org=org,
        robot_id="serviced",
        mode="maintenance",
        last_heartbeat_at=heartbeat_ago(7200),
    )
    RobotFactory(org=org, robot_id="faulty", mode="error", last_heartbeat_at=None)
    RobotFactory(
        org=other_org, robot_id="foreign", last_heartbeat_at=online_heartbeat()
    )


def test_summary_counts_by_status(call, mixed_fleet):
    robots = call("get_fleet_summary").data["robots"]
    assert robots["by_status"] == {
        "online": 2,
        "offline": 3,
        "estopped": 1,
        "maintenance": 1,
        "error": 1,
    }
    assert robots["total"] == 8
    assert robots["never_reported"] == 2


def test_summary_matches_model_status(call, org, mixed_fleet):
    expected = Counter(robot.status for robot in Robot.objects.for_org(org))
    by_status = call("get_fleet_summary").data["robots"]["by_status"]
    assert {k: v for k, v in by_status.items() if v} == dict(expected)


def test_summary_reads_heartbeat_timeout(call, org, settings):
    RobotFactory(org=org, robot_id="arm-30s", last_heartbeat_at=heartbeat_ago(30))

    settings.CENTEROS_HEARTBEAT_TIMEOUT = 10
    assert call("get_fleet_summary").data["robots"]["by_status"]["offline"] == 1

    settings.CENTEROS_HEARTBEAT_TIMEOUT = 60
    assert call("get_fleet_summary").data["robots"]["by_status"]["online"] == 1


def test_summary_stale_heartbeats(call, mixed_fleet):
    stale = call("get_fleet_summary").data["stale_heartbeats"]
    # Oldest first; robots that never reported are not stale.
    assert stale["robot_ids"] == ["silent-2", "serviced", "silent-1"]
    assert stale["count"] == 3
    assert stale["truncated"] is False


def test_summary_stale_list_is_bounded(call, org):
    Robot.objects.bulk_create(
        [
            Robot(
                org=org,
                robot_id=f"arm-{n:03d}",
                last_heartbeat_at=heartbeat_ago(600 + n),
            )
            for n in range(60)
        ]
    )
    stale = call("get_fleet_summary").data["stale_heartbeats"]
    assert stale["count"] == 60
    assert len(stale["robot_ids"]) == 50
    assert stale["robot_ids"][0] == "arm-059"
    assert stale["truncated"] is True


def test_summary_alerts_and_tickets(call, org, other_org):
    robot = RobotFactory(org=org)
    AlertFactory(robot=robot, severity="critical", status="open")
    AlertFactory(robot=robot, severity="warning", status="open")
    AlertFactory(robot=robot, severity="warning", status="open")
    AlertFactory(robot=robot, severity="info", status="acknowledged")
    AlertFactory(robot=robot, severity="critical", status="resolved")
    AlertFactory(robot=RobotFactory(org=other_org), severity="critical")

    data = call("get_fleet_summary").data
    assert data["alerts"]["open_by_severity"] == {
        "info": 0,
        "warning": 2,
        "critical": 1,
    }
    assert data["alerts"]["open_total"] == 3
    assert data["open_tickets"] == 4


def test_summary_empty_fleet(call):
    data = call("get_fleet_summary").data
    assert data["robots"]["total"] == 0
    assert data["stale_heartbeats"]["robot_ids"] == []
    assert data["open_tickets"] == 0
    assert data["heartbeat_timeout_seconds"] == 60


def test_summary_query_count_constant(call, org):
    # The first call also records the token's last use; later ones do not.
    call("get_fleet_summary")
    RobotFactory.create_batch(3, org=org, last_heartbeat_at=stale_heartbeat())
    few = count_queries(call, "get_fleet_summary")

    RobotFactory.create_batch(30, org=org, last_heartbeat_at=stale_heartbeat())
    assert count_queries(call, "get_fleet_summary") == few
