"""Concurrent transitions of one task: exactly one request wins.

These need PostgreSQL, where ``select_for_update`` takes a row lock; SQLite
serialises whole-database writes instead and cannot show the race.
"""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from annotations.models import AnnotationReview
from tests.factories import AnnotationTaskFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def _race(name: str, params_list: list[dict], token: str) -> list[int]:
    """Post ``name`` once per params dict, all released at the same moment."""
    barrier = threading.Barrier(len(params_list))
    statuses: list[int] = []
    lock = threading.Lock()

    def run(params):
        try:
            client = Client()
            barrier.wait(timeout=10)
            response = client.post(
                f"/api/actions/{name}",
                data=json.dumps({"params": params}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in params_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_concurrent_submit_has_one_winner(org, admin_token):
    task = AnnotationTaskFactory(org=org, status="in_progress")

    statuses = _race("submit_task", [{"task_id": task.pk}] * THREADS, admin_token)

    assert sorted(statuses) == [200] + [409] * (THREADS - 1)
    task.refresh_from_db()
    assert task.status == "in_review"


def test_concurrent_submit_of_open_task_has_one_winner(org, admin_token):
    task = AnnotationTaskFactory(org=org, status="open")

    statuses = _race("submit_task", [{"task_id": task.pk}] * THREADS, admin_token)

    assert sorted(statuses) == [200] + [409] * (THREADS - 1)


def test_concurrent_reviews_record_one_decision(org, admin_token):
    task = AnnotationTaskFactory(org=org, status="in_review")
    approve = {"task_id": task.pk, "decision": "approved"}
    reject = {"task_id": task.pk, "decision": "rejected", "comment": "Redo"}

    statuses = _race("review_task", [approve, reject] * (THREADS // 2), admin_token)

    assert sorted(statuses) == [200] + [409] * (THREADS - 1)
    review = AnnotationReview.objects.get(task=task)
    task.refresh_from_db()
    assert task.status == review.decision
