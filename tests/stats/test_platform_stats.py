"""get_platform_stats against data made with the factories."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    AnnotationTaskFactory,
    DatasetFactory,
    ModelVersionFactory,
    OrganizationFactory,
    RobotFactory,
    TrainingJobFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _fill(org, *, scale: int = 1) -> None:
    """Create a known mix of objects in ``org``; counts grow with ``scale``."""
    now = timezone.now()
    for _ in range(scale):
        DatasetFactory(org=org, status="ready", size_bytes=1000)
        DatasetFactory(org=org, status="ready", size_bytes=2500)
        DatasetFactory(org=org, status="pending_upload", size_bytes=7777)
        DatasetFactory(org=org, status="failed", size_bytes=None)

        TrainingJobFactory(org=org, status="running")
        TrainingJobFactory(org=org, status="succeeded")
        TrainingJobFactory(org=org, status="succeeded")

        ModelVersionFactory(org=org, status="draft")
        ModelVersionFactory(org=org, status="deployed")

        RobotFactory(org=org, last_heartbeat_at=now)
        RobotFactory(org=org, last_heartbeat_at=now - timedelta(hours=1))
        RobotFactory(org=org, last_heartbeat_at=None)
        RobotFactory(org=org, estopped=True, last_heartbeat_at=now)
        RobotFactory(org=org, mode="maintenance", last_heartbeat_at=now)
        RobotFactory(org=org, mode="error")

        AnnotationTaskFactory(org=org, status="open")
        AnnotationTaskFactory(org=org, status="approved")
        AnnotationTaskFactory(org=org, status="approved")


@pytest.fixture
def filled(org, other_org):
    _fill(org)
    _fill(other_org, scale=2)
    return org


def test_stats_datasets(call, filled):
    data = call("get_platform_stats").data

    assert data["datasets"] == {
        "total": 4,
        "by_status": {
            "pending_upload": 1,
            "processing": 0,
            "ready": 2,
            "failed": 1,
        },
        "total_bytes": 3500,
    }


def test_stats_training_jobs(call, filled):
    jobs = call("get_platform_stats").data["training_jobs"]

    assert jobs["total"] == 3
    assert jobs["by_status"] == {
        "pending": 0,
        "queued": 0,
        "running": 1,
        "succeeded": 2,
        "failed": 0,
        "cancelled": 0,
    }


def test_stats_model_versions(call, filled):
    models = call("get_platform_stats").data["model_versions"]

    assert models["total"] == 2
    assert models["by_status"] == {
        "draft": 1,
        "validated": 0,
        "deployed": 1,
        "retired": 0,
    }


def test_stats_robots_by_derived_status(call, filled):
    robots = call("get_platform_stats").data["robots"]

    assert robots["total"] == 6
    assert robots["by_status"] == {
        "online": 1,
        "offline": 2,
        "estopped": 1,
        "maintenance": 1,
        "error": 1,
    }


def test_stats_robot_counts_match_model_property(call, filled):
    from fleet.models import Robot

    expected: dict[str, int] = {}
    for robot in Robot.objects.for_org(filled):
        expected[robot.status] = expected.get(robot.status, 0) + 1

    robots = call("get_platform_stats").data["robots"]

    assert {k: v for k, v in robots["by_status"].items() if v} == expected


def test_stats_annotation_tasks(call, filled):
    tasks = call("get_platform_stats").data["annotation_tasks"]

    assert tasks["total"] == 3
    assert tasks["by_status"]["open"] == 1
    assert tasks["by_status"]["approved"] == 2
    assert tasks["by_status"]["rejected"] == 0


def test_stats_of_empty_org(call, org):
    data = call("get_platform_stats").data

    assert data["org_id"] == org.pk
    assert data["datasets"]["total"] == 0
    assert data["datasets"]["total_bytes"] == 0
    assert data["robots"]["by_status"]["offline"] == 0
    assert set(data["annotation_tasks"]["by_status"]) == {
        "open",
        "in_progress",
        "in_review",
        "approved",
        "rejected",
    }


def test_stats_own_org_id_is_allowed(call, org):
    result = call("get_platform_stats", {"org_id": org.pk})

    assert result.status == 200
    assert result.data["org_id"] == org.pk


def test_stats_other_org_id_is_403(call, filled, other_org):
    result = call("get_platform_stats", {"org_id": other_org.pk})

    assert result.status == 403
    assert result.body["code"] == "permission_denied"


def test_stats_superadmin_may_name_other_org(call, make_token, org, other_org):
    _fill(other_org, scale=2)
    superadmin = UserFactory(is_superuser=True)
    token = make_token(role="admin", org=org, user=superadmin)

    result = call("get_platform_stats", {"org_id": other_org.pk}, token=token)

    assert result.status == 200
    assert result.data["org_id"] == other_org.pk
    assert result.data["datasets"]["total"] == 8
    assert result.data["datasets"]["total_bytes"] == 7000


def test_stats_superadmin_unknown_org_is_404(call, make_token, org):
    superadmin = UserFactory(is_superuser=True)
    token = make_token(role="admin", org=org, user=superadmin)

    result = call("get_platform_stats", {"org_id": 999999}, token=token)

    assert result.status == 404


@pytest.mark.parametrize("role", ["admin", "operator", "annotator", "viewer"])
def test_stats_every_role_may_read(call, make_token, org, role):
    token = make_token(role=role, scopes=["*"], org=org)

    assert call("get_platform_stats", token=token).status == 200


def test_stats_query_count_does_not_grow(call, org):
    _fill(org)
    call("get_platform_stats")  # first use of the token writes last_used_at
    with CaptureQueriesContext(connection) as few:
        call("get_platform_stats")
    _fill(org, scale=5)
    with CaptureQueriesContext(connection) as many:
        data = call("get_platform_stats").data

    assert data["robots"]["total"] == 36
    assert len(many) == len(few)


def test_stats_ignore_other_orgs(call, org):
    stranger = OrganizationFactory()
    _fill(stranger, scale=3)

    data = call("get_platform_stats").data

    assert data["datasets"]["total"] == 0
    assert data["training_jobs"]["total"] == 0
    assert data["model_versions"]["total"] == 0
    assert data["robots"]["total"] == 0
    assert data["annotation_tasks"]["total"] == 0
