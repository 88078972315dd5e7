"""The local signed download endpoint and the artifact download action."""

import logging
import time
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets.storage import (
    DownloadGrant,
    LocalUploadBackend,
    download_token_sign,
)
from tests.factories import TrainingJobFactory

pytestmark = pytest.mark.django_db

KEY = "artifacts/1/abc123def456/model.npz"
CONTENT = b"model weights " * 1000


@pytest.fixture
def stored_artifact():
    default_storage.save(KEY, ContentFile(CONTENT))
    return KEY


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_download_streams_file(client, stored_artifact, caplog):
    caplog.set_level(logging.DEBUG)
    url = LocalUploadBackend().signed_download_url(stored_artifact, expires_in=60)
    token = urlsplit(url).path.rsplit("/", 1)[-1]

    response = client.get(urlsplit(url).path)

    assert response.status_code == 200
    assert body_of(response) == CONTENT
    assert 'filename="model.npz"' in response["Content-Disposition"]
    assert token not in caplog.text


def test_download_expired_is_403(client, stored_artifact, caplog):
    caplog.set_level(logging.DEBUG)
    token = download_token_sign(
        DownloadGrant(key=stored_artifact, expires_at=int(time.time()) - 1)
    )

    response = client.get(f"/api/downloads/{token}")

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_download_url"
    assert "expired" in response.json()["detail"]
    assert token not in caplog.text


def test_download_tampered_is_403(client, stored_artifact, caplog):
    caplog.set_level(logging.DEBUG)
    url = LocalUploadBackend().signed_download_url(stored_artifact, expires_in=60)
    path = urlsplit(url).path
    tampered = path[:-2] + ("A" if path[-2] != "A" else "B") + path[-1]

    response = client.get(tampered)

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_download_url"
    assert tampered.rsplit("/", 1)[-1] not in caplog.text


def test_upload_token_is_not_a_download_token(client, stored_artifact):
    from datasets.storage import UploadGrant, upload_token_sign

    token = upload_token_sign(
        UploadGrant(
            dataset_id=1, key=stored_artifact, size=1, expires_at=int(time.time()) + 60
        )
    )

    assert client.get(f"/api/downloads/{token}").status_code == 403


def test_download_missing_file_is_404(client):
    url = LocalUploadBackend().signed_download_url("artifacts/gone.npz", expires_in=60)

    response = client.get(urlsplit(url).path)

    assert response.status_code == 404


def test_download_post_is_405(client, stored_artifact):
    url = LocalUploadBackend().signed_download_url(stored_artifact, expires_in=60)

    response = client.post(urlsplit(url).path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# ---------------------------------------------------------------------------
# get_artifact_download_url


@pytest.fixture
def job_with_artifact(org, stored_artifact):
    return TrainingJobFactory(
        org=org,
        status="succeeded",
        artifact_key=stored_artifact,
        artifact_sha256="a" * 64,
        artifact_size=len(CONTENT),
    )


def test_artifact_url_downloads_artifact(call, client, job_with_artifact, settings):
    settings.CENTEROS_DOWNLOAD_URL_TTL = 120
    before = time.time()

    result = call("get_artifact_download_url", {"job_id": job_with_artifact.pk})

    assert result.status == 200, result.body
    data = result.data
    assert data["job_id"] == job_with_artifact.pk
    assert data["artifact"]["size_bytes"] == len(CONTENT)
    response = client.get(urlsplit(data["download_url"]).path)
    assert response.status_code == 200
    assert body_of(response) == CONTENT
    from datetime import datetime

    expires = datetime.fromisoformat(data["expires_at"]).timestamp()
    assert before + 119 <= expires <= time.time() + 121


def test_artifact_url_without_artifact_is_409(call, org):
    job = TrainingJobFactory(org=org)

    result = call("get_artifact_download_url", {"job_id": job.pk})

    assert result.status == 409
    assert result.body["code"] == "artifact_missing"


def test_artifact_url_other_org_is_404(call, other_org):
    job = TrainingJobFactory(org=other_org, artifact_key=KEY)

    result = call("get_artifact_download_url", {"job_id": job.pk})

    assert result.status == 404


def test_artifact_url_missing_job_id_is_400(call):
    result = call("get_artifact_download_url", {})

    assert result.status == 400
    assert "job_id" in str(result.body)


def test_artifact_url_wrong_type_is_400(call):
    result = call("get_artifact_download_url", {"job_id": 12})

    assert result.status == 400
    assert "job_id" in str(result.body)


@pytest.mark.parametrize(
    ("role", "scopes"),
    [("admin", ["datasets:read"]), ("admin", ["training:write"])],
)
def test_artifact_url_needs_training_read(
    call, make_token, org, job_with_artifact, role, scopes
):
    token = make_token(role=role, scopes=scopes, org=org)

    result = call(
        "get_artifact_download_url", {"job_id": job_with_artifact.pk}, token=token
    )

    assert result.status == 403
