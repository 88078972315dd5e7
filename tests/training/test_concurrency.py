"""Concurrent state changes of training jobs on PostgreSQL row locks."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from tests.conftest import ActionCaller
from tests.factories import DatasetFactory, TrainingJobFactory
from training.models import TrainingJob


def _race(token: str, calls: list[tuple[str, dict]]) -> list[int]:
    """Run the action calls at the same moment, one thread each; return statuses."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def run(index: int, name: str, params: dict) -> None:
        try:
            caller = ActionCaller(Client(), token)
            barrier.wait(timeout=10)
            statuses[index] = caller(name, params).status
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, name, params))
        for index, (name, params) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_launches_have_one_winner(org, admin_token):
    job = TrainingJobFactory(org=org, datasets=[DatasetFactory(org=org)])

    statuses = _race(admin_token, [("launch_training", {"job_id": job.pk})] * 2)

    assert sorted(statuses) == [200, 409]
    job.refresh_from_db()
    assert job.status == "queued"
    assert DBTaskResult.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_launch_and_cancel_agree(org, admin_token):
    job = TrainingJobFactory(org=org, datasets=[DatasetFactory(org=org)])

    statuses = _race(
        admin_token,
        [
            ("launch_training", {"job_id": job.pk}),
            ("cancel_training", {"job_id": job.pk}),
        ],
    )

    job.refresh_from_db()
    assert statuses[1] == 200
    assert job.status == "cancelled"
    assert TrainingJob.objects.filter(status="queued").count() == 0
    assert statuses[0] in (200, 409)
