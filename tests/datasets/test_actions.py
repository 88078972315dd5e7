"""The dataset actions: records, listing, deletion, and the access matrix."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datasets import services
from datasets.models import Dataset
from tests.factories import DatasetFactory, TrainingJobFactory

pytestmark = pytest.mark.django_db

READ_ACTIONS = ["list_datasets", "get_dataset"]
WRITE_ACTIONS = [
    "delete_dataset",
    "upload_dataset",
    "get_upload_signed_url",
    "confirm_upload",
]


def valid_params(name: str, dataset: Dataset) -> dict:
    return {
        "list_datasets": {},
        "get_dataset": {"dataset_id": dataset.pk},
        "delete_dataset": {"dataset_id": dataset.pk},
        "upload_dataset": {"name": "grasp"},
        "get_upload_signed_url": {"filename": "a.hdf5", "file_size": 10},
        "confirm_upload": {"dataset_id": dataset.pk},
    }[name]


# ---------------------------------------------------------------------------
# Access matrix


@pytest.mark.parametrize("name", READ_ACTIONS + WRITE_ACTIONS)
def test_action_without_token_is_401(call, name, org):
    dataset = DatasetFactory(org=org)

    result = call(name, valid_params(name, dataset), token=None)

    assert result.status == 401


@pytest.mark.parametrize("name", READ_ACTIONS + WRITE_ACTIONS)
def test_action_without_dataset_scope_is_403(call, make_token, org, name):
    dataset = DatasetFactory(org=org)
    token = make_token(role="admin", scopes=["training:read", "models:write"], org=org)

    result = call(name, valid_params(name, dataset), token=token)

    assert result.status == 403
    assert "datasets:" in result.body["detail"]


@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_write_action_with_read_scope_is_403(call, make_token, org, name):
    dataset = DatasetFactory(org=org)
    token = make_token(role="admin", scopes=["datasets:read"], org=org)

    result = call(name, valid_params(name, dataset), token=token)

    assert result.status == 403
    assert "datasets:write" in result.body["detail"]


@pytest.mark.parametrize("role", ["viewer", "annotator"])
@pytest.mark.parametrize("name", WRITE_ACTIONS)
def test_write_action_for_reading_roles_is_403(call, make_token, org, name, role):
    dataset = DatasetFactory(org=org)
    token = make_token(role=role, scopes=["*"], org=org)

    result = call(name, valid_params(name, dataset), token=token)

    assert result.status == 403
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize("role", ["viewer", "annotator", "operator", "admin"])
@pytest.mark.parametrize("name", READ_ACTIONS)
def test_read_action_for_every_role(call, make_token, org, name, role):
    dataset = DatasetFactory(org=org)
    token = make_token(role=role, scopes=["datasets:read"], org=org)

    result = call(name, valid_params(name, dataset), token=token)

    assert result.status == 200


@pytest.mark.parametrize("name", ["delete_dataset", "upload_dataset"])
def test_write_action_for_operator(call, make_token, org, name):
    dataset = DatasetFactory(org=org)
    token = make_token(role="operator", scopes=["datasets:write"], org=org)

    result = call(name, valid_params(name, dataset), token=token)

    assert result.status == 200


@pytest.mark.parametrize("name", ["get_dataset", "delete_dataset", "confirm_upload"])
def test_action_on_other_org_dataset_is_404(call, other_org, name):
    dataset = DatasetFactory(org=other_org, status="pending_upload")

    result = call(name, {"dataset_id": dataset.pk})

    assert result.status == 404
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize("name", ["get_dataset", "delete_dataset", "confirm_upload"])
def test_action_on_missing_dataset_is_404(call, name):
    result = call(name, {"dataset_id": 987654})

    assert result.status == 404
    assert "987654" in result.body["detail"]


# ---------------------------------------------------------------------------
# Parameter validation


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("get_dataset", {}, "dataset_id"),
        ("delete_dataset", {}, "dataset_id"),
        ("confirm_upload", {}, "dataset_id"),
        ("upload_dataset", {}, "name"),
        ("get_upload_signed_url", {"file_size": 10}, "filename"),
        ("get_upload_signed_url", {"filename": "a.hdf5"}, "file_size"),
    ],
)
def test_missing_required_param_is_400(call, name, params, field):
    result = call(name, params)

    assert result.status == 400
    assert field in result.body["errors"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("list_datasets", {"limit": "5"}, "limit"),
        ("list_datasets", {"offset": 1.5}, "offset"),
        ("list_datasets", {"search": 3}, "search"),
        ("list_datasets", {"file_type": ["hdf5"]}, "file_type"),
        ("list_datasets", {"status": "archived"}, "status"),
        ("get_dataset", {"dataset_id": "1"}, "dataset_id"),
        ("get_dataset", {"dataset_id": True}, "dataset_id"),
        ("delete_dataset", {"dataset_id": 1.0}, "dataset_id"),
        ("upload_dataset", {"name": 5}, "name"),
        ("upload_dataset", {"name": "a", "tags": "x"}, "tags"),
        ("upload_dataset", {"name": "a", "tags": [1]}, "tags"),
        ("upload_dataset", {"name": "a", "description": None}, "description"),
        ("upload_dataset", {"name": "a", "file_type": "csv"}, "file_type"),
        ("get_upload_signed_url", {"filename": 1, "file_size": 10}, "filename"),
        ("get_upload_signed_url", {"filename": "a", "file_size": "10"}, "file_size"),
        (
            "get_upload_signed_url",
            {"filename": "a", "file_size": 10, "sha256": 1},
            "sha256",
        ),
        (
            "get_upload_signed_url",
            {"filename": "a", "file_size": 10, "dataset_id": "2"},
            "dataset_id",
        ),
        ("confirm_upload", {"dataset_id": 1, "sha256": ["a"]}, "sha256"),
    ],
)
def test_wrong_json_type_is_400(call, name, params, field):
    result = call(name, params)

    assert result.status == 400
    assert any(key.split(".")[0] == field for key in result.body["errors"])
    assert field in result.body["detail"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("list_datasets", {"limit": 0}, "limit"),
        ("list_datasets", {"limit": 201}, "limit"),
        ("list_datasets", {"limit": 10**30}, "limit"),
        ("list_datasets", {"offset": -1}, "offset"),
        ("get_dataset", {"dataset_id": 0}, "dataset_id"),
        ("get_dataset", {"dataset_id": 2**63}, "dataset_id"),
        ("delete_dataset", {"dataset_id": -4}, "dataset_id"),
        ("get_upload_signed_url", {"filename": "a", "file_size": 0}, "file_size"),
        ("get_upload_signed_url", {"filename": "a", "file_size": 2**70}, "file_size"),
        ("get_upload_signed_url", {"filename": "", "file_size": 10}, "filename"),
        ("upload_dataset", {"name": ""}, "name"),
        ("upload_dataset", {"name": "x" * 201}, "name"),
        ("upload_dataset", {"name": "a", "tags": ["t"] * 51}, "tags"),
        ("confirm_upload", {"dataset_id": 10**20}, "dataset_id"),
    ],
)
def test_out_of_range_value_is_400(call, name, params, field):
    result = call(name, params)

    assert result.status == 400
    assert field in result.body["errors"]


@pytest.mark.parametrize("name", READ_ACTIONS + WRITE_ACTIONS)
def test_unknown_param_is_400(call, org, name):
    dataset = DatasetFactory(org=org)

    result = call(name, valid_params(name, dataset) | {"bucket": "x"})

    assert result.status == 400
    assert "bucket" in result.body["errors"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("list_datasets", '{"params": {"limit": %s}}'),
        ("get_dataset", '{"params": {"dataset_id": %s}}'),
        ("delete_dataset", '{"params": {"dataset_id": %s}}'),
        ("confirm_upload", '{"params": {"dataset_id": %s}}'),
        ("get_upload_signed_url", '{"params": {"filename": "a", "file_size": %s}}'),
        ("upload_dataset", '{"params": {"name": "a", "tags": [%s]}}'),
    ],
)
def test_non_finite_number_is_400(call, name, template, constant):
    result = call(name, body=template % constant)

    assert result.status == 400
    assert result.body["ok"] is False


# ---------------------------------------------------------------------------
# upload_dataset


def test_upload_dataset_creates_record(call, org, make_token):
    result = call(
        "upload_dataset",
        {
            "name": "  Pick bottle, G1  ",
            "description": "Teleoperated picks.",
            "tags": ["humanoid", " g1 ", "humanoid", ""],
            "file_type": "lerobot",
        },
    )

    assert result.status == 200, result.body
    data = result.data
    dataset = Dataset.objects.get(pk=data["id"])
    assert dataset.org == org
    assert dataset.name == "Pick bottle, G1"
    assert dataset.tags == ["humanoid", "g1"]
    assert dataset.file_type == "lerobot"
    assert dataset.status == "pending_upload"
    assert data["status"] == "pending_upload"
    assert data["created_by_id"] == dataset.created_by_id is not None


def test_upload_dataset_blank_name_is_400(call):
    result = call("upload_dataset", {"name": "   "})

    assert result.status == 400
    assert Dataset.objects.count() == 0


def test_upload_dataset_long_tag_is_400(call):
    result = call("upload_dataset", {"name": "a", "tags": ["t" * 65]})

    assert result.status == 400
    assert "tags.0" in result.body["errors"]


# ---------------------------------------------------------------------------
# get_dataset and list_datasets


def test_get_dataset_returns_metadata(call, org):
    dataset = DatasetFactory(org=org, metadata={"format": "hdf5", "episodes": 10})

    data = call("get_dataset", {"dataset_id": dataset.pk}).data

    assert data["id"] == dataset.pk
    assert data["name"] == dataset.name
    assert data["status"] == "ready"
    assert data["metadata"] == {"format": "hdf5", "episodes": 10}
    assert data["episode_count"] == 10
    assert data["frame_count"] == 1740


def test_list_datasets_only_own_org(call, org, other_org):
    mine = DatasetFactory.create_batch(2, org=org)
    DatasetFactory.create_batch(3, org=other_org)

    result = call("list_datasets", {})

    assert result.status == 200
    assert sorted(item["id"] for item in result.data) == sorted(d.pk for d in mine)
    assert result.body["meta"] == {"total": 2, "limit": 50, "offset": 0}


def test_list_datasets_omits_metadata(call, org):
    DatasetFactory(org=org)

    item = call("list_datasets", {}).data[0]

    assert "metadata" not in item
    assert item["episode_count"] == 10


def test_list_datasets_search(call, org):
    grasp = DatasetFactory(org=org, name="Grasp cubes")
    described = DatasetFactory(org=org, name="run 7", description="grasping mugs")
    DatasetFactory(org=org, name="Wipe table")

    result = call("list_datasets", {"search": "GRASP"})

    assert sorted(item["id"] for item in result.data) == sorted(
        [grasp.pk, described.pk]
    )
    assert result.body["meta"]["total"] == 2


def test_list_datasets_filters(call, org):
    hdf5 = DatasetFactory(org=org, file_type="hdf5", status="ready")
    DatasetFactory(org=org, file_type="mcap", status="ready")
    failed = DatasetFactory(org=org, file_type="hdf5", status="failed")

    by_type = call("list_datasets", {"file_type": "hdf5"})
    by_both = call("list_datasets", {"file_type": "hdf5", "status": "failed"})

    assert {item["id"] for item in by_type.data} == {hdf5.pk, failed.pk}
    assert [item["id"] for item in by_both.data] == [failed.pk]


def test_list_datasets_pagination(call, org):
    datasets = DatasetFactory.create_batch(5, org=org)
    newest_first = sorted(datasets, key=lambda d: (d.created_at, d.pk), reverse=True)

    result = call("list_datasets", {"limit": 2, "offset": 1})

    assert [item["id"] for item in result.data] == [d.pk for d in newest_first[1:3]]
    assert result.body["meta"] == {"total": 5, "limit": 2, "offset": 1}


def test_list_datasets_query_count_is_constant(call, org):
    DatasetFactory.create_batch(3, org=org)
    call("list_datasets", {})

    with CaptureQueriesContext(connection) as few:
        assert len(call("list_datasets", {}).data) == 3
    DatasetFactory.create_batch(27, org=org)
    with CaptureQueriesContext(connection) as many:
        assert len(call("list_datasets", {}).data) == 30

    assert len(many.captured_queries) == len(few.captured_queries)


# ---------------------------------------------------------------------------
# delete_dataset


def test_delete_dataset_removes_file_after_commit(
    call, org, _storage_root, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory(org=org, storage_key=f"datasets/{org.pk}/9/abc/a.hdf5")
    default_storage.save(dataset.storage_key, ContentFile(b"recorded"))
    stored = _storage_root / dataset.storage_key
    assert stored.is_file()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = call("delete_dataset", {"dataset_id": dataset.pk})
        assert stored.is_file()
    for callback in callbacks:
        callback()

    assert result.status == 200
    assert result.data == {"id": dataset.pk, "name": dataset.name, "deleted": True}
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not stored.exists()
    assert not (_storage_root / f"datasets/{org.pk}/9").exists()


def test_delete_dataset_without_file(call, org, django_capture_on_commit_callbacks):
    dataset = DatasetFactory(org=org, storage_key="")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = call("delete_dataset", {"dataset_id": dataset.pk})

    assert result.status == 200
    assert callbacks == []


def test_delete_dataset_twice_is_404(call, org):
    dataset = DatasetFactory(org=org)
    call("delete_dataset", {"dataset_id": dataset.pk})

    result = call("delete_dataset", {"dataset_id": dataset.pk})

    assert result.status == 404


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_dataset_used_by_active_job_is_409(
    call, org, status, _storage_root, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory(org=org, storage_key=f"datasets/{org.pk}/1/x/a.hdf5")
    default_storage.save(dataset.storage_key, ContentFile(b"recorded"))
    job = TrainingJobFactory(org=org, status=status, datasets=[dataset])

    with django_capture_on_commit_callbacks(execute=True):
        result = call("delete_dataset", {"dataset_id": dataset.pk})

    assert result.status == 409
    assert job.pk in result.body["detail"]
    assert Dataset.objects.filter(pk=dataset.pk).exists()
    assert (_storage_root / dataset.storage_key).is_file()


@pytest.mark.parametrize("status", ["pending", "succeeded", "failed", "cancelled"])
def test_delete_dataset_used_by_inactive_job(call, org, status):
    dataset = DatasetFactory(org=org)
    TrainingJobFactory(org=org, status=status, datasets=[dataset])

    result = call("delete_dataset", {"dataset_id": dataset.pk})

    assert result.status == 200


def test_deletion_guard_blocks_with_its_sentence(call, org):
    dataset = DatasetFactory(org=org, name="keep-me")

    def guard(candidate):
        if candidate.name == "keep-me":
            return f"Dataset {candidate.pk} is on legal hold."
        return None

    services.register_deletion_guard(guard)
    services.register_deletion_guard(guard)
    try:
        blocked = call("delete_dataset", {"dataset_id": dataset.pk})
        other = call("delete_dataset", {"dataset_id": DatasetFactory(org=org).pk})
    finally:
        services.unregister_deletion_guard(guard)

    assert blocked.status == 409
    assert blocked.body["detail"] == f"Dataset {dataset.pk} is on legal hold."
    assert blocked.body["code"] == "dataset_in_use"
    assert other.status == 200
    assert guard not in services._deletion_guards
