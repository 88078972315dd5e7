"""Concurrent emergency stops, deployments and registrations on PostgreSQL.

Each request runs in its own thread with its own database connection,
through the real action endpoint, so the row locks of the services decide
the outcome.
"""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client

from fleet import services
from fleet.choices import ACTIVE_DEPLOYMENT_STATUSES
from fleet.models import Deployment, Robot, RobotCommand
from tests.conftest import ActionCaller
from tests.factories import ModelVersionFactory, RobotFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(token: str, calls: list[tuple[str, dict]]) -> list[int]:
    """Start the action calls together and return their status codes in order."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, name: str, params: dict) -> None:
        try:
            barrier.wait(timeout=10)
            statuses[index] = ActionCaller(Client(), token)(name, params).status
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, name, params))
        for index, (name, params) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return statuses


def start_call(token: str, name: str, params: dict) -> tuple[threading.Thread, dict]:
    """Start one action call in a thread; its status lands in the dict."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["status"] = ActionCaller(Client(), token)(name, params).status
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def wait_for_lock_wait(timeout: float = 10.0) -> None:
    """Return once another backend of this database waits on a row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Statistics are cached per transaction until cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("No request waited on the robot's row lock.")


def assert_stopped_cleanly(robot: Robot) -> None:
    robot.refresh_from_db()
    assert robot.estopped is True
    assert not Deployment.objects.filter(
        robot=robot, status__in=ACTIVE_DEPLOYMENT_STATUSES
    ).exists()
    assert not RobotCommand.objects.filter(
        robot=robot, kind="deploy", status__in=["queued", "delivered"]
    ).exists()
    assert RobotCommand.objects.filter(robot=robot, kind="emergency_stop").count() == 1


def test_deploy_and_stop_race(admin_token, org):
    model = ModelVersionFactory(org=org, status="validated")
    for number in range(6):
        robot = RobotFactory(org=org, robot_id=f"race-{number}")
        deploy_status, stop_status = run_in_threads(
            admin_token,
            [
                (
                    "deploy_model",
                    {"robot_id": robot.robot_id, "model_version_id": model.pk},
                ),
                ("emergency_stop", {"robot_id": robot.robot_id}),
            ],
        )
        assert stop_status == 200
        assert deploy_status in (200, 409)
        assert_stopped_cleanly(robot)


def test_deploy_committed_first_is_cancelled(admin_token, org):
    robot = RobotFactory(org=org, robot_id="arm-01")
    model = ModelVersionFactory(org=org, status="validated")

    # The deployment holds the robot's lock while the stop request waits.
    with transaction.atomic():
        result = services.deployment_create(
            org=org, robot_id="arm-01", model_version_id=model.pk
        )
        thread, outcome = start_call(
            admin_token, "emergency_stop", {"robot_id": "arm-01"}
        )
        wait_for_lock_wait()
    thread.join(timeout=30)

    assert outcome["status"] == 200
    assert Deployment.objects.get(pk=result.deployment.pk).status == "cancelled"
    assert_stopped_cleanly(robot)


def test_deploy_waiting_on_stop_is_409(admin_token, org):
    robot = RobotFactory(org=org, robot_id="arm-01")
    model = ModelVersionFactory(org=org, status="validated")

    # The stop holds the robot's lock while the deploy request waits.
    with transaction.atomic():
        services.robot_emergency_stop(org=org, robot_id="arm-01")
        thread, outcome = start_call(
            admin_token,
            "deploy_model",
            {"robot_id": "arm-01", "model_version_id": model.pk},
        )
        wait_for_lock_wait()
    thread.join(timeout=30)

    assert outcome["status"] == 409
    assert not Deployment.objects.exists()
    assert_stopped_cleanly(robot)


def test_concurrent_stops_queue_one_command(admin_token, org):
    robot = RobotFactory(org=org, robot_id="arm-01")
    statuses = run_in_threads(
        admin_token, [("emergency_stop", {"robot_id": "arm-01"})] * 4
    )
    assert statuses == [200] * 4
    assert_stopped_cleanly(robot)


def test_concurrent_registrations_one_wins(admin_token, org):
    statuses = run_in_threads(
        admin_token, [("register_robot", {"robot_id": "arm-07"})] * 3
    )
    assert sorted(statuses) == [200, 409, 409]
    assert Robot.objects.filter(org=org, robot_id="arm-07").count() == 1
