"""Concurrent confirmations and uploads: one winner, a 409 for the rest."""

import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from centeros.errors import Conflict
from datasets import services
from datasets.models import Dataset

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, target) -> list:
    """Run ``target()`` in ``count`` threads at once; return results or errors."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_confirms_have_one_winner(org, demo_bytes):
    dataset, _ = services.dataset_upload_start(
        org=org, filename="demo.hdf5", file_size=len(demo_bytes)
    )
    default_storage.save(dataset.storage_key, ContentFile(demo_bytes))

    results = run_together(
        4,
        lambda: services.dataset_confirm_upload(org=org, dataset_id=dataset.pk),
    )

    winners = [r for r in results if isinstance(r, Dataset)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1, results
    assert len(conflicts) == 3, results
    assert {error.code for error in conflicts} <= {
        "dataset_ready",
        "dataset_processing",
    }
    dataset.refresh_from_db()
    assert dataset.status == "ready"


def test_concurrent_signed_urls_leave_one_key(org):
    dataset = services.dataset_create(org=org, name="grasp")

    results = run_together(
        3,
        lambda: (
            services.dataset_upload_start(
                org=org, filename="a.hdf5", file_size=10, dataset_id=dataset.pk
            )[0].storage_key
        ),
    )

    assert all(isinstance(key, str) for key in results), results
    assert len(set(results)) == 3
    dataset.refresh_from_db()
    assert dataset.storage_key in results
