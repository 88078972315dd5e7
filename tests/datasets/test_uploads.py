"""Signed uploads: get_upload_signed_url, PUT /api/uploads/<token>, confirm_upload."""

import io
import logging
import tarfile
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets.models import Dataset
from datasets.storage import UploadGrant, upload_token_sign
from tests.datasets.conftest import hdf5_expectations, sha256_hex, upload_path
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


# ---------------------------------------------------------------------------
# get_upload_signed_url


def test_signed_url_creates_pending_dataset(call, org, settings):
    result = call(
        "get_upload_signed_url", {"filename": "episode_001.hdf5", "file_size": 5000}
    )

    assert result.status == 200, result.body
    data = result.data
    dataset = Dataset.objects.get(pk=data["dataset_id"])
    assert dataset.org == org
    assert dataset.status == "pending_upload"
    assert dataset.name == "episode_001.hdf5"
    assert dataset.file_type == "hdf5"
    assert dataset.size_bytes == 5000
    assert data["method"] == "PUT"
    assert data["max_size"] == settings.CENTEROS_MAX_UPLOAD_SIZE
    assert data["upload_url"].startswith(f"{settings.CENTEROS_PUBLIC_URL}/api/uploads/")
    assert data["headers"] == {"Content-Type": "application/octet-stream"}
    assert data["expires_at"]


def test_signed_url_storage_key_layout(call, org):
    data = call(
        "get_upload_signed_url", {"filename": "grasp.mcap", "file_size": 10}
    ).data

    dataset = Dataset.objects.get(pk=data["dataset_id"])
    parts = dataset.storage_key.split("/")
    assert parts[:3] == ["datasets", str(org.pk), str(dataset.pk)]
    assert len(parts[3]) == 32
    assert parts[4] == "grasp.mcap"


def test_signed_url_uses_given_name(call):
    data = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "name": "Pick and place, day 3"},
    ).data

    assert Dataset.objects.get(pk=data["dataset_id"]).name == "Pick and place, day 3"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\run 1.hdf5", "run_1.hdf5"),
        ("épisode:01.mcap", "episode_01.mcap"),
        (".hidden.bag", "hidden.bag"),
        ("a/b/c/data.tar.gz", "data.tar.gz"),
    ],
)
def test_signed_url_reduces_file_name(call, filename, expected):
    data = call("get_upload_signed_url", {"filename": filename, "file_size": 10}).data

    dataset = Dataset.objects.get(pk=data["dataset_id"])
    assert data["filename"] == expected
    assert dataset.storage_key.endswith(f"/{expected}")


def test_signed_url_long_name_keeps_extension(call):
    data = call(
        "get_upload_signed_url", {"filename": "x" * 250 + ".hdf5", "file_size": 10}
    ).data

    assert len(data["filename"]) == 150
    assert data["filename"].endswith(".hdf5")


def test_signed_url_unusable_file_name_is_400(call):
    result = call("get_upload_signed_url", {"filename": "../..", "file_size": 10})

    assert result.status == 400
    assert "filename" in result.body["detail"]
    assert Dataset.objects.count() == 0


def test_signed_url_over_maximum_is_413(call, settings):
    settings.CENTEROS_MAX_UPLOAD_SIZE = 1000

    result = call("get_upload_signed_url", {"filename": "a.hdf5", "file_size": 1001})

    assert result.status == 413
    assert result.body["code"] == "payload_too_large"
    assert "1000" in result.body["detail"]
    assert Dataset.objects.count() == 0


def test_signed_url_at_maximum_is_accepted(call, settings):
    settings.CENTEROS_MAX_UPLOAD_SIZE = 1000

    result = call("get_upload_signed_url", {"filename": "a.hdf5", "file_size": 1000})

    assert result.status == 200


@pytest.mark.parametrize(
    "sha256", ["z" * 64, "0" * 63 + " ", "0" * 63 + "g"], ids=["letters", "space", "g"]
)
def test_signed_url_invalid_sha256_is_400(call, sha256):
    result = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "sha256": sha256},
    )

    assert result.status == 400
    assert "sha256" in result.body["detail"]


def test_signed_url_sha256_of_wrong_length_is_400(call):
    result = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "sha256": "ab" * 31},
    )

    assert result.status == 400
    assert "sha256" in result.body["errors"]


def test_signed_url_stores_sha256_in_lower_case(call):
    data = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "sha256": "AB" * 32},
    ).data

    assert Dataset.objects.get(pk=data["dataset_id"]).expected_sha256 == "ab" * 32


def test_signed_url_content_type_is_signed(call):
    data = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "content_type": "application/x-hdf5"},
    ).data

    assert data["headers"] == {"Content-Type": "application/x-hdf5"}
    assert Dataset.objects.get(pk=data["dataset_id"]).content_type == (
        "application/x-hdf5"
    )


def test_signed_url_invalid_content_type_is_400(call):
    result = call(
        "get_upload_signed_url",
        {"filename": "a.hdf5", "file_size": 10, "content_type": "text/html\r\nX: 1"},
    )

    assert result.status == 400
    assert "content_type" in result.body["detail"]


def test_signed_url_for_existing_pending_dataset(call, org):
    dataset = DatasetFactory(org=org, status="pending_upload", storage_key="")

    data = call(
        "get_upload_signed_url",
        {"filename": "b.bag", "file_size": 10, "dataset_id": dataset.pk},
    ).data

    dataset.refresh_from_db()
    assert data["dataset_id"] == dataset.pk
    assert dataset.file_type == "rosbag"
    assert dataset.storage_key.endswith("/b.bag")
    assert Dataset.objects.count() == 1


def test_signed_url_for_failed_dataset_resets_it(call, org):
    dataset = DatasetFactory(
        org=org, status="failed", error="Size differs.", storage_key=""
    )

    result = call(
        "get_upload_signed_url",
        {"filename": "b.hdf5", "file_size": 10, "dataset_id": dataset.pk},
    )

    assert result.status == 200
    dataset.refresh_from_db()
    assert dataset.status == "pending_upload"
    assert dataset.error == ""


@pytest.mark.parametrize("status", ["ready", "processing"])
def test_signed_url_for_ready_or_processing_is_409(call, org, status):
    dataset = DatasetFactory(org=org, status=status)

    result = call(
        "get_upload_signed_url",
        {"filename": "b.hdf5", "file_size": 10, "dataset_id": dataset.pk},
    )

    assert result.status == 409
    assert str(dataset.pk) in result.body["detail"]


def test_signed_url_other_org_dataset_is_404(call, other_org):
    dataset = DatasetFactory(org=other_org, status="pending_upload")

    result = call(
        "get_upload_signed_url",
        {"filename": "b.hdf5", "file_size": 10, "dataset_id": dataset.pk},
    )

    assert result.status == 404


def test_signed_url_new_url_deletes_earlier_file(
    call, uploaded, put_upload, _storage_root, django_capture_on_commit_callbacks
):
    first = uploaded("a.hdf5", b"first file")
    first_key = Dataset.objects.get(pk=first["dataset_id"]).storage_key
    assert default_storage.exists(first_key)

    with django_capture_on_commit_callbacks(execute=True):
        second = call(
            "get_upload_signed_url",
            {"filename": "a.hdf5", "file_size": 6, "dataset_id": first["dataset_id"]},
        ).data

    assert not default_storage.exists(first_key)
    assert put_upload(second["upload_url"], b"second").status_code == 200
    assert put_upload(first["upload_url"], b"first file").status_code == 409


# ---------------------------------------------------------------------------
# PUT /api/uploads/<token>


def test_put_stores_file_and_checksum(sign, put_upload, demo_bytes):
    signed = sign("demo.hdf5", demo_bytes)

    response = put_upload(signed["upload_url"], demo_bytes)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "ok": True,
        "data": {
            "dataset_id": signed["dataset_id"],
            "size_bytes": len(demo_bytes),
            "sha256": sha256_hex(demo_bytes),
        },
    }
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "pending_upload"
    assert dataset.uploaded_bytes == len(demo_bytes)
    assert dataset.uploaded_at is not None
    with default_storage.open(dataset.storage_key, "rb") as stored:
        assert stored.read() == demo_bytes


def test_put_leaves_no_temporary_files(sign, put_upload, _storage_root):
    signed = sign("a.bin", b"0123456789")

    put_upload(signed["upload_url"], b"0123456789")

    files = stored_files(_storage_root)
    assert [path.name for path in files] == ["a.bin"]


def test_put_second_upload_replaces_pending_file(sign, put_upload, call):
    first, second = b"A" * 100, b"B" * 100
    signed = sign("a.bin", first)

    assert put_upload(signed["upload_url"], first).status_code == 200
    response = put_upload(signed["upload_url"], second)

    assert response.status_code == 200
    assert response.json()["data"]["sha256"] == sha256_hex(second)
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    with default_storage.open(dataset.storage_key, "rb") as stored:
        assert stored.read() == second


def test_put_expired_url_is_403(put_upload, org):
    dataset = DatasetFactory(org=org, status="pending_upload", storage_key="k/a.bin")
    token = upload_token_sign(
        UploadGrant(
            dataset_id=dataset.pk,
            key=dataset.storage_key,
            size=3,
            expires_at=int(time.time()) - 5,
        )
    )

    response = put_upload(f"/api/uploads/{token}", b"abc")

    assert response.status_code == 403
    body = response.json()
    assert body["ok"] is False
    assert "expired" in body["detail"]
    assert not default_storage.exists(dataset.storage_key)


def test_put_tampered_token_is_403(sign, put_upload):
    signed = sign("a.bin", b"abc")
    path = upload_path(signed["upload_url"])
    token = path.rsplit("/", 1)[1]
    tampered_char = "A" if token[5] != "A" else "B"
    tampered = token[:5] + tampered_char + token[6:]

    response = put_upload(f"/api/uploads/{tampered}", b"abc")

    assert response.status_code == 403
    assert response.json()["ok"] is False


def test_put_token_of_other_salt_is_403(put_upload, org):
    from django.core import signing

    dataset = DatasetFactory(org=org, status="pending_upload", storage_key="k/a.bin")
    token = signing.dumps(
        {"d": dataset.pk, "k": "k/a.bin", "s": 3, "e": int(time.time()) + 60},
        compress=True,
    )

    response = put_upload(f"/api/uploads/{token}", b"abc")

    assert response.status_code == 403


def test_put_wrong_length_is_400(sign, put_upload):
    signed = sign("a.bin", b"abcdef")

    response = put_upload(signed["upload_url"], b"abcde")

    assert response.status_code == 400
    assert response.json()["code"] == "size_mismatch"
    assert "6" in response.json()["detail"]
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert not default_storage.exists(dataset.storage_key)


def test_put_without_content_length_is_411(sign, put_upload):
    signed = sign("a.bin", b"abc")

    response = put_upload(signed["upload_url"], b"abc", CONTENT_LENGTH="")

    assert response.status_code == 411
    assert response.json()["ok"] is False


def test_put_invalid_content_length_is_400(sign, put_upload):
    signed = sign("a.bin", b"abc")

    response = put_upload(signed["upload_url"], b"abc", CONTENT_LENGTH="three")

    assert response.status_code == 400


def test_put_over_maximum_is_413(sign, put_upload, settings):
    signed = sign("a.bin", b"0123456789")
    settings.CENTEROS_MAX_UPLOAD_SIZE = 5

    response = put_upload(signed["upload_url"], b"0123456789")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_put_to_ready_dataset_is_409(uploaded, put_upload, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)
    assert call("confirm_upload", {"dataset_id": signed["dataset_id"]}).status == 200

    response = put_upload(signed["upload_url"], demo_bytes)

    assert response.status_code == 409
    assert response.json()["code"] == "dataset_ready"


def test_put_to_deleted_dataset_is_404(sign, put_upload):
    signed = sign("a.bin", b"abc")
    Dataset.objects.filter(pk=signed["dataset_id"]).delete()

    response = put_upload(signed["upload_url"], b"abc")

    assert response.status_code == 404


def test_put_get_method_is_405(sign, client):
    signed = sign("a.bin", b"abc")

    response = client.get(upload_path(signed["upload_url"]))

    assert response.status_code == 405
    assert response["Allow"] == "PUT"


def test_put_logs_no_token(sign, put_upload, caplog):
    caplog.set_level(logging.DEBUG)
    signed = sign("a.bin", b"abc")
    token = upload_path(signed["upload_url"]).rsplit("/", 1)[1]

    put_upload(signed["upload_url"], b"abc")
    put_upload(signed["upload_url"][:-3] + "xyz", b"abc")

    assert "Stored 3 bytes for dataset" in caplog.text
    assert token not in caplog.text
    assert token[:20] not in caplog.text


# ---------------------------------------------------------------------------
# confirm_upload


def test_confirm_inspects_hdf5(uploaded, call, demo_path, demo_bytes):
    expected = hdf5_expectations(demo_path)
    signed = uploaded("demo.hdf5", demo_bytes, sha256=sha256_hex(demo_bytes))

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 200, result.body
    data = result.data
    assert data["status"] == "ready"
    assert data["file_type"] == "hdf5"
    assert data["episode_count"] == expected["episodes"]
    assert data["frame_count"] == expected["frames"]
    assert data["metadata"]["action_dim"] == expected["action_dim"]
    assert data["metadata"]["observation_dim"] == expected["observation_dim"]
    assert data["sha256"] == sha256_hex(demo_bytes)
    assert data["ready_at"] is not None


def test_confirm_with_matching_sha256(uploaded, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)

    result = call(
        "confirm_upload",
        {"dataset_id": signed["dataset_id"], "sha256": sha256_hex(demo_bytes)},
    )

    assert result.status == 200
    assert result.data["status"] == "ready"


def test_confirm_sha256_mismatch_marks_failed(uploaded, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes, sha256="0" * 64)

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 400
    assert result.body["code"] == "sha256_mismatch"
    assert "SHA-256" in result.body["detail"]
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "failed"
    assert "SHA-256" in dataset.error


def test_confirm_sha256_mismatch_given_at_confirm(uploaded, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)

    result = call(
        "confirm_upload", {"dataset_id": signed["dataset_id"], "sha256": "1" * 64}
    )

    assert result.status == 400
    assert Dataset.objects.get(pk=signed["dataset_id"]).status == "failed"


def test_confirm_conflicting_sha256_declarations_is_400(uploaded, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes, sha256=sha256_hex(demo_bytes))

    result = call(
        "confirm_upload", {"dataset_id": signed["dataset_id"], "sha256": "1" * 64}
    )

    assert result.status == 400
    assert "sha256" in result.body["errors"]
    assert Dataset.objects.get(pk=signed["dataset_id"]).status == "pending_upload"


def test_confirm_before_upload_is_400(sign, call):
    signed = sign("demo.hdf5", b"x" * 10)

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 400
    assert result.body["code"] == "upload_missing"
    assert Dataset.objects.get(pk=signed["dataset_id"]).status == "pending_upload"


def test_confirm_record_without_upload_is_400(call):
    dataset_id = call("upload_dataset", {"name": "grasp"}).data["id"]

    result = call("confirm_upload", {"dataset_id": dataset_id})

    assert result.status == 400
    assert "get_upload_signed_url" in result.body["detail"]


def test_confirm_size_mismatch_marks_failed(sign, call):
    signed = sign("a.bin", b"x" * 10)
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key
    # A store written outside the signed endpoint, as a cloud bucket can be.
    default_storage.save(key, ContentFile(b"x" * 7))

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 400
    assert result.body["code"] == "size_mismatch"
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "failed"
    assert "7 bytes" in dataset.error


def test_confirm_reads_checksum_when_not_recorded(sign, call):
    content = b"y" * 10
    signed = sign("a.bin", content, sha256=sha256_hex(content))
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key
    default_storage.save(key, ContentFile(content))

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 200
    assert result.data["sha256"] == sha256_hex(content)


def test_confirm_corrupt_file_marks_failed(uploaded, call):
    signed = uploaded("broken.hdf5", b"this is not an HDF5 file at all")

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 400
    assert result.body["code"] == "inspection_failed"
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "failed"
    assert dataset.error == result.body["detail"]


def test_confirm_unknown_format_is_ready_as_other(uploaded, call):
    signed = uploaded("notes.txt", b"gripper calibration notes")

    data = call("confirm_upload", {"dataset_id": signed["dataset_id"]}).data

    assert data["status"] == "ready"
    assert data["file_type"] == "other"
    assert data["episode_count"] is None
    assert data["sha256"] == sha256_hex(b"gripper calibration notes")


def test_confirm_archive_resolves_to_rosbag2(uploaded, call, recorded_data):
    folder = recorded_data / "rosbag2_sqlite3" / "tf_example"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="tf_example")
    signed = uploaded("tf_example.tar.gz", buffer.getvalue())
    assert Dataset.objects.get(pk=signed["dataset_id"]).file_type == "archive"

    data = call("confirm_upload", {"dataset_id": signed["dataset_id"]}).data

    assert data["status"] == "ready"
    assert data["file_type"] == "rosbag2"
    assert data["metadata"]["format"] == "rosbag2"


def test_confirm_ready_dataset_is_409(uploaded, call, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)
    call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 409
    assert result.body["code"] == "dataset_ready"


def test_confirm_failed_dataset_is_409(call, org):
    dataset = DatasetFactory(org=org, status="failed", error="Size differs.")

    result = call("confirm_upload", {"dataset_id": dataset.pk})

    assert result.status == 409
    assert "Size differs" in result.body["detail"]


def test_confirm_other_org_dataset_is_404(call, other_org):
    dataset = DatasetFactory(org=other_org, status="pending_upload")

    result = call("confirm_upload", {"dataset_id": dataset.pk})

    assert result.status == 404


def test_reupload_after_failure_then_ready(uploaded, call, put_upload, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes, sha256="0" * 64)
    assert call("confirm_upload", {"dataset_id": signed["dataset_id"]}).status == 400

    again = call(
        "get_upload_signed_url",
        {
            "filename": "demo.hdf5",
            "file_size": len(demo_bytes),
            "dataset_id": signed["dataset_id"],
            "sha256": sha256_hex(demo_bytes),
        },
    ).data
    assert put_upload(again["upload_url"], demo_bytes).status_code == 200
    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert result.status == 200
    assert result.data["status"] == "ready"
    assert result.data["error"] is None


def test_put_through_asgi_handler(sign, demo_bytes, async_client):
    from asgiref.sync import async_to_sync

    signed = sign("demo.hdf5", demo_bytes)

    response = async_to_sync(async_client.put)(
        upload_path(signed["upload_url"]),
        data=demo_bytes,
        content_type="application/octet-stream",
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"]["sha256"] == sha256_hex(demo_bytes)
