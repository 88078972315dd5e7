"""The Dataset admin: listing, read-only fields, and deletion through the service."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from datasets.models import Dataset
from tests.factories import DatasetFactory, TrainingJobFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_changelist_lists_datasets(admin_client, org):
    DatasetFactory(org=org, name="grasp-cubes", size_bytes=2 * 1024**2)

    response = admin_client.get(reverse("admin:datasets_dataset_changelist"))

    assert response.status_code == 200
    assert b"grasp-cubes" in response.content
    assert b"2.0\xc2\xa0MB" in response.content


def test_admin_change_page_state_is_read_only(admin_client, org):
    dataset = DatasetFactory(org=org, status="ready")

    response = admin_client.post(
        reverse("admin:datasets_dataset_change", args=[dataset.pk]),
        {"name": "renamed", "description": "", "tags": "[]", "status": "failed"},
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.name == "renamed"
    assert dataset.status == "ready"


def test_admin_has_no_add_page(admin_client):
    response = admin_client.get(reverse("admin:datasets_dataset_add"))

    assert response.status_code == 403


def test_admin_delete_blocked_by_running_job(admin_client, org):
    dataset = DatasetFactory(org=org)
    job = TrainingJobFactory(org=org, status="running", datasets=[dataset])
    url = reverse("admin:datasets_dataset_delete", args=[dataset.pk])

    page = admin_client.get(url)
    admin_client.post(url, {"post": "yes"})

    assert f"training job {job.pk}".encode() in page.content
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_admin_delete_removes_file(
    admin_client, org, _storage_root, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory(org=org, storage_key=f"datasets/{org.pk}/5/u/a.hdf5")
    default_storage.save(dataset.storage_key, ContentFile(b"recorded"))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:datasets_dataset_delete", args=[dataset.pk]),
            {"post": "yes"},
        )

    assert response.status_code == 302
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not (_storage_root / dataset.storage_key).exists()


def test_admin_bulk_delete_goes_through_service(
    admin_client, org, _storage_root, django_capture_on_commit_callbacks
):
    free = DatasetFactory(org=org, storage_key=f"datasets/{org.pk}/6/u/a.hdf5")
    default_storage.save(free.storage_key, ContentFile(b"recorded"))
    busy = DatasetFactory(org=org)
    TrainingJobFactory(org=org, status="queued", datasets=[busy])

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:datasets_dataset_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [free.pk],
                "post": "yes",
            },
        )

    assert not Dataset.objects.filter(pk=free.pk).exists()
    assert not (_storage_root / free.storage_key).exists()
    assert Dataset.objects.filter(pk=busy.pk).exists()
