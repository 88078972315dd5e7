"""Admin pages of the fleet: lists load, tokens hidden, state read-only."""

import pytest
from django.urls import reverse

from fleet.models import Robot
from tests.factories import (
    AlertFactory,
    DeploymentFactory,
    RobotCommandFactory,
    RobotFactory,
)
from tests.fleet.conftest import online_heartbeat

pytestmark = pytest.mark.django_db

MODELS = ["robot", "robotcommand", "deployment", "alert"]


@pytest.fixture
def fleet_rows(org, robot):
    RobotCommandFactory(robot=robot)
    DeploymentFactory(robot=robot)
    AlertFactory(robot=robot)
    return robot


@pytest.mark.parametrize("model", MODELS)
def test_admin_changelist_loads(admin_client, fleet_rows, model):
    response = admin_client.get(reverse(f"admin:fleet_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_admin_cannot_add(admin_client, model):
    response = admin_client.get(reverse(f"admin:fleet_{model}_add"))
    assert response.status_code == 403


def test_admin_robot_list_shows_derived_status(admin_client, org):
    RobotFactory(org=org, robot_id="arm-on", last_heartbeat_at=online_heartbeat())
    RobotFactory(org=org, robot_id="arm-stop", estopped=True)
    response = admin_client.get(reverse("admin:fleet_robot_changelist"))
    content = response.content.decode()
    assert "online" in content
    assert "estopped" in content


def test_admin_robot_page_hides_token_hash(admin_client, call):
    data = call("register_robot", {"robot_id": "arm-42"}).data
    robot = Robot.objects.get(robot_id="arm-42")
    response = admin_client.get(reverse("admin:fleet_robot_change", args=[robot.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert robot.token_hash not in content
    assert data["token"] not in content
    assert 'name="estopped"' not in content
    assert 'name="name"' in content
