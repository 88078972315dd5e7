"""confirm_upload commits in steps, so a confirm in progress is visible."""

from datetime import timedelta

import pytest
from django.utils import timezone

from datasets.models import Dataset

pytestmark = pytest.mark.django_db


def test_confirm_while_processing_is_409(call, uploaded, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)
    Dataset.objects.filter(pk=signed["dataset_id"]).update(status="processing")
    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert result.status == 409
    assert result.body["code"] == "dataset_processing"


def test_stale_processing_can_be_confirmed_again(call, uploaded, demo_bytes):
    signed = uploaded("demo.hdf5", demo_bytes)
    long_ago = timezone.now() - timedelta(hours=1)
    Dataset.objects.filter(pk=signed["dataset_id"]).update(
        status="processing", updated_at=long_ago
    )
    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert result.status == 200, result.body
    assert result.data["status"] == "ready"


def test_confirm_failure_is_committed(call, uploaded):
    signed = uploaded("broken.hdf5", b"not an hdf5 file at all")
    result = call("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert result.status == 400
    assert Dataset.objects.get(pk=signed["dataset_id"]).status == "failed"
