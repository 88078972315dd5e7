"""Which artifact locations register_model accepts."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "../../var/secret_key",
        "/etc/passwd",
        "artifacts/999999/abc/model.npz",
        "datasets/1/x.hdf5",
        "s3://../artifacts/1/abc/model.npz",
        "gs://bucket/../../artifacts/1/model.npz",
        "https:///etc/passwd",
    ],
)
def test_register_rejects_foreign_locations(call, uri):
    result = call("register_model", {"name": "m", "artifact_uri": uri})
    assert result.status == 400
    assert "artifact_uri" in result.body["errors"]


def test_register_accepts_own_stored_artifact(call, org):
    key = default_storage.save(
        f"artifacts/{org.pk}/manual/model.npz", ContentFile(b"x")
    )
    result = call("register_model", {"name": "m", "artifact_uri": key})
    assert result.status == 200


def test_register_rejects_missing_own_artifact(call, org):
    result = call(
        "register_model",
        {"name": "m", "artifact_uri": f"artifacts/{org.pk}/nothing/model.npz"},
    )
    assert result.status == 400


def test_register_accepts_external_url(call):
    result = call(
        "register_model", {"name": "m", "artifact_uri": "s3://models/pick/v1.pt"}
    )
    assert result.status == 200
