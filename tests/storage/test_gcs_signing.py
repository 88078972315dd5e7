"""Google Cloud Storage URL signing, offline, with a throwaway service-account key.

No request is sent: V4 signing with a service-account key is local
computation, so these tests check the form and expiry of the signed URLs.
"""

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from datasets.cloud_storage import GCSUploadBackend
from datasets.storage import get_upload_backend
from datasets.storage_settings import GCS_STORAGE_CLASS

BUCKET = "centeros-datasets"
SIGNER = "signer@centeros-test.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def gcs_credentials():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "centeros-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": SIGNER,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return service_account.Credentials.from_service_account_info(info)


@pytest.fixture
def gcs_storage(settings, gcs_credentials):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": GCS_STORAGE_CLASS,
            "OPTIONS": {
                "bucket_name": BUCKET,
                "project_id": "centeros-test",
                "credentials": gcs_credentials,
                "location": "tenant-a",
            },
        },
    }
    settings.CENTEROS_UPLOAD_BACKEND = "gcs"


def query_of(url: str) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_backend_is_gcs(gcs_storage):
    assert isinstance(get_upload_backend(), GCSUploadBackend)


@pytest.mark.django_db
def test_upload_url_is_v4_signed_put(gcs_storage, call, settings):
    settings.CENTEROS_UPLOAD_URL_TTL = 900
    before = int(time.time())

    result = call(
        "get_upload_signed_url",
        {
            "filename": "demo.hdf5",
            "file_size": 48112,
            "content_type": "application/x-hdf5",
        },
    )

    assert result.status == 200, result.body
    data = result.data
    url = urlsplit(data["upload_url"])
    query = query_of(data["upload_url"])
    assert url.scheme == "https"
    assert url.hostname == "storage.googleapis.com"
    assert url.path.startswith(f"/{BUCKET}/tenant-a/datasets/")
    assert url.path.endswith("/demo.hdf5")
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == "900"
    assert query["X-Goog-Credential"].startswith(f"{SIGNER}/")
    signed_headers = query["X-Goog-SignedHeaders"].split(";")
    assert "content-type" in signed_headers
    assert "x-goog-content-length-range" in signed_headers
    assert "host" in signed_headers
    # A 2048-bit RSA signature, hex encoded.
    assert len(query["X-Goog-Signature"]) == 512
    assert data["method"] == "PUT"
    assert data["headers"] == {
        "Content-Type": "application/x-hdf5",
        "x-goog-content-length-range": "48112,48112",
    }

    signed_at = datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ")
    signed_at = int(signed_at.replace(tzinfo=UTC).timestamp())
    assert before - 1 <= signed_at <= int(time.time()) + 1
    expires_at = datetime.fromisoformat(data["expires_at"]).timestamp()
    assert abs(expires_at - (signed_at + 900)) <= 2


def test_download_url_is_v4_signed_get(gcs_storage):
    url = get_upload_backend().signed_download_url(
        "artifacts/job/model.npz", expires_in=120
    )

    parts = urlsplit(url)
    query = query_of(url)
    assert parts.hostname == "storage.googleapis.com"
    assert parts.path == f"/{BUCKET}/tenant-a/artifacts/job/model.npz"
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == "120"
    assert query["X-Goog-SignedHeaders"] == "host"


def test_signatures_differ_per_size(gcs_storage):
    backend = get_upload_backend()
    common = {
        "key": "datasets/1/2/u/a.bin",
        "content_type": "application/octet-stream",
        "expires_in": 60,
        "dataset_id": 2,
    }

    first = backend.signed_upload(size=100, **common)
    second = backend.signed_upload(size=101, **common)

    assert (
        query_of(first["url"])["X-Goog-Signature"]
        != (query_of(second["url"])["X-Goog-Signature"])
    )
    assert second["headers"]["x-goog-content-length-range"] == "101,101"
