"""Datasets on an S3-compatible store: presigned uploads, checks, reads, deletes."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from datasets.cloud_storage import S3UploadBackend
from datasets.inspection import inspect_file
from datasets.models import Dataset
from datasets.storage import get_upload_backend
from tests.datasets.conftest import hdf5_expectations

pytestmark = pytest.mark.django_db

DEMO = "hdf5/robosuite_raw_wipe_panda/demo.hdf5"
MCAP = "mcap/pointcloudset_ouster/test.mcap"


def sign(call, filename: str, content: bytes, **params) -> dict:
    result = call(
        "get_upload_signed_url",
        {"filename": filename, "file_size": len(content), **params},
    )
    assert result.status == 200, result.body
    return result.data


def put(signed: dict, content: bytes) -> httpx.Response:
    return httpx.put(
        signed["upload_url"], content=content, headers=signed["headers"], timeout=30
    )


def stored_key(signed: dict, s3_env: dict) -> str:
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key
    return f"tenant-a/{key}"


def test_backend_is_s3(s3_storage):
    assert isinstance(get_upload_backend(), S3UploadBackend)


def test_signed_url_is_presigned_put(s3_storage, call, settings):
    settings.CENTEROS_UPLOAD_URL_TTL = 900

    signed = sign(call, "demo.hdf5", b"x" * 10, content_type="application/x-hdf5")

    url = urlsplit(signed["upload_url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}" == s3_storage["CENTEROS_S3_ENDPOINT_URL"]
    assert url.path.startswith(f"/{s3_storage['CENTEROS_STORAGE_BUCKET']}/tenant-a/")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    signed_headers = query["X-Amz-SignedHeaders"][0].split(";")
    assert "content-length" in signed_headers
    assert "content-type" in signed_headers
    assert signed["method"] == "PUT"
    assert signed["headers"] == {"Content-Type": "application/x-hdf5"}


def test_signed_url_binds_sha256(s3_storage, call):
    content = b"abc"
    digest = hashlib.sha256(content).hexdigest()

    signed = sign(call, "a.bin", content, sha256=digest)

    query = parse_qs(urlsplit(signed["upload_url"]).query)
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"][0].split(";")
    assert "x-amz-checksum-sha256" in signed["headers"]


def test_upload_confirm_hdf5(s3_storage, s3_client, call, recorded_data):
    path = recorded_data / DEMO
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    expected = hdf5_expectations(path)

    signed = sign(call, "demo.hdf5", content, sha256=digest)
    response = put(signed, content)
    assert response.status_code == 200, response.text

    key = stored_key(signed, s3_storage)
    head = s3_client.head_object(Bucket=s3_storage["CENTEROS_STORAGE_BUCKET"], Key=key)
    assert head["ContentLength"] == len(content)

    confirmed = call("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert confirmed.status == 200, confirmed.body
    data = confirmed.data
    assert data["status"] == "ready"
    assert data["sha256"] == digest
    assert data["episode_count"] == expected["episodes"]
    assert data["frame_count"] == expected["frames"]
    assert data["metadata"]["action_dim"] == expected["action_dim"]


def test_confirm_sha256_mismatch_fails(s3_storage, call):
    content = b"recorded bytes" * 100
    signed = sign(call, "a.bin", content)
    assert put(signed, content).status_code == 200

    confirmed = call(
        "confirm_upload", {"dataset_id": signed["dataset_id"], "sha256": "0" * 64}
    )

    assert confirmed.status == 400
    assert confirmed.body["code"] == "sha256_mismatch"
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "failed"
    assert dataset.sha256 == hashlib.sha256(content).hexdigest()


def test_wrong_length_is_rejected(s3_storage, call):
    declared = b"a" * 1000
    signed = sign(call, "a.bin", declared)

    response = put(signed, b"a" * 900)

    # S3 returns 403 because Content-Length is a signed header. A server
    # that does not check signatures stores the object, and then the
    # confirmation rejects it.
    if response.status_code == 200:
        confirmed = call("confirm_upload", {"dataset_id": signed["dataset_id"]})
        assert confirmed.status == 400
        assert confirmed.body["code"] == "size_mismatch"
        assert Dataset.objects.get(pk=signed["dataset_id"]).status == "failed"
    else:
        assert response.status_code == 403


def test_confirm_without_upload_is_400(s3_storage, call):
    signed = sign(call, "a.bin", b"abc")

    confirmed = call("confirm_upload", {"dataset_id": signed["dataset_id"]})

    assert confirmed.status == 400
    assert confirmed.body["code"] == "upload_missing"
    assert Dataset.objects.get(pk=signed["dataset_id"]).status == "pending_upload"


def test_reupload_to_ready_dataset_is_409(s3_storage, call):
    content = b"abc"
    signed = sign(call, "a.bin", content)
    assert put(signed, content).status_code == 200
    assert call("confirm_upload", {"dataset_id": signed["dataset_id"]}).status == 200

    again = call(
        "get_upload_signed_url",
        {"filename": "a.bin", "file_size": 3, "dataset_id": signed["dataset_id"]},
    )

    assert again.status == 409
    assert again.body["code"] == "dataset_ready"


def test_oversize_is_413(s3_storage, call, settings):
    settings.CENTEROS_MAX_UPLOAD_SIZE = 1000

    result = call("get_upload_signed_url", {"filename": "a.bin", "file_size": 1001})

    assert result.status == 413


def test_ranged_reader_inspects_mcap_partially(s3_storage, call, recorded_data):
    path = recorded_data / MCAP
    content = path.read_bytes()
    signed = sign(call, "test.mcap", content)
    assert put(signed, content).status_code == 200
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key
    backend = get_upload_backend()

    with backend.open(key) as reader:
        metadata = inspect_file(reader, filename="test.mcap")
        fetched = reader.bytes_fetched

    assert metadata == inspect_file(path, filename="test.mcap")
    assert metadata["extra"]["message_count"] == 273
    assert metadata["extra"]["counted_from"] == "summary"
    assert fetched < len(content) / 4, (fetched, len(content))


def test_ranged_reader_inspects_hdf5(s3_storage, call, recorded_data):
    path = recorded_data / DEMO
    content = path.read_bytes()
    signed = sign(call, "demo.hdf5", content)
    assert put(signed, content).status_code == 200
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key

    with get_upload_backend().open(key) as reader:
        metadata = inspect_file(reader, filename="demo.hdf5")

    assert metadata == inspect_file(path, filename="demo.hdf5")


def test_ranged_reader_reads_like_a_file(s3_storage, call):
    content = bytes(range(256)) * 5000
    signed = sign(call, "a.bin", content)
    assert put(signed, content).status_code == 200
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key

    with get_upload_backend().open(key) as reader:
        reader.block_size = 4096
        assert reader.read(10) == content[:10]
        reader.seek(-5, 2)
        assert reader.read() == content[-5:]
        reader.seek(100_000)
        assert reader.read(20_000) == content[100_000:120_000]
        assert reader.tell() == 120_000
        reader.seek(4090)
        assert reader.read(12) == content[4090:4102]
        reader.seek(len(content) + 10)
        assert reader.read(5) == b""


def test_delete_dataset_removes_object(
    s3_storage, s3_client, call, django_capture_on_commit_callbacks
):
    content = b"abc"
    signed = sign(call, "a.bin", content)
    assert put(signed, content).status_code == 200
    key = stored_key(signed, s3_storage)
    bucket = s3_storage["CENTEROS_STORAGE_BUCKET"]

    with django_capture_on_commit_callbacks(execute=True):
        deleted = call("delete_dataset", {"dataset_id": signed["dataset_id"]})

    assert deleted.status == 200
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=key)
    assert listed["KeyCount"] == 0


def test_signed_download_url_reads_object(s3_storage, call):
    content = b"artifact bytes" * 50
    signed = sign(call, "a.bin", content)
    assert put(signed, content).status_code == 200
    key = Dataset.objects.get(pk=signed["dataset_id"]).storage_key

    url = get_upload_backend().signed_download_url(key, expires_in=60)

    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"]
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == content


def test_missing_object_size_is_none(s3_storage):
    assert get_upload_backend().object_size("datasets/1/2/x/missing.bin") is None
