"""get_system_health with a real database, storage folder and task table."""

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_health_ok_with_working_storage(call, _storage_root):
    data = call("get_system_health").data

    assert data["status"] == "ok"
    assert data["checks"]["database"]["status"] == "ok"
    assert data["checks"]["storage"]["status"] == "ok"
    assert data["checks"]["storage"]["backend"] == "FileSystemStorage"
    assert data["checks"]["task_queue"] == {"status": "ok", "waiting": 0}
    assert data["version"]
    assert not any((_storage_root / "health").glob("*"))


@pytest.fixture
def broken_storage(settings, tmp_path):
    """Point storage under a regular file, where no folder can be created.

    A read-only folder would not do, because the tests may run as root and
    permission bits do not block root from writing.
    """
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file, not a folder")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "storage")},
        },
    }
    return blocker


def test_health_storage_error_degrades(call, broken_storage):
    data = call("get_system_health").data

    assert data["checks"]["storage"]["status"] == "error"
    assert data["checks"]["database"]["status"] == "ok"
    assert data["status"] == "degraded"


def test_health_error_detail_for_admins(call, broken_storage):
    storage = call("get_system_health").data["checks"]["storage"]

    assert storage["detail"]


def test_health_error_detail_hidden_from_other_roles(
    call, make_token, org, broken_storage
):
    token = make_token(role="annotator", scopes=["*"], org=org)

    storage = call("get_system_health", token=token).data["checks"]["storage"]

    assert storage == {"status": "error"}


def test_health_stale_task_queue_degrades(call):
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="training.tasks.run_training_job",
        backend_name="default",
        run_after=timezone.now() - timedelta(hours=1),
    )
    DBTaskResult.objects.filter(pk=task.pk).update(
        enqueued_at=timezone.now() - timedelta(hours=1)
    )

    data = call("get_system_health").data

    assert data["checks"]["task_queue"]["status"] == "degraded"
    assert data["checks"]["task_queue"]["waiting"] == 1
    assert data["status"] == "degraded"


@pytest.mark.parametrize("name", ["get_platform_stats", "get_system_health"])
def test_stats_action_needs_stats_scope(call, make_token, org, name):
    token = make_token(role="admin", scopes=["annotations:read"], org=org)

    result = call(name, token=token)

    assert result.status == 403
    assert "stats:read" in result.body["detail"]


@pytest.mark.parametrize("name", ["get_platform_stats", "get_system_health"])
def test_stats_action_without_token_is_401(call, name):
    assert call(name, token=None).status == 401


INVALID = [
    ("get_platform_stats", {"org_id": "1"}, "org_id"),
    ("get_platform_stats", {"org_id": 0}, "org_id"),
    ("get_platform_stats", {"org_id": 2**63}, "org_id"),
    ("get_platform_stats", {"org_id": True}, "org_id"),
    ("get_platform_stats", {"verbose": True}, "verbose"),
    ("get_system_health", {"deep": True}, "deep"),
]


@pytest.mark.parametrize(("name", "params", "field"), INVALID)
def test_stats_invalid_param_is_400(call, name, params, field):
    result = call(name, params)

    assert result.status == 400
    assert field in result.body["errors"]


@pytest.mark.parametrize(
    "body",
    [
        '{"params": {"org_id": NaN}}',
        '{"params": {"org_id": Infinity}}',
        '{"params": {"org_id": 1e400}}',
        '{"params": {"org_id": 123456789012345678901234567890}}',
    ],
)
def test_stats_non_finite_org_id_is_400(call, body):
    result = call("get_platform_stats", body=body)

    assert result.status == 400
