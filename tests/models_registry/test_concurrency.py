"""Concurrent promotions, registrations and results on PostgreSQL.

Each thread sends its request through the real view with its own database
connection, and a barrier releases them together so the requests overlap.
"""

import threading
from collections import Counter

import pytest
from django.db import connections
from django.test import Client

from models_registry.models import Evaluation, ModelTransition, ModelVersion
from tests.conftest import ActionCaller
from tests.factories import EvaluationFactory, ModelVersionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 4


def _call_concurrently(token: str, name: str, params_for_thread) -> list:
    """Run the action once per thread, all released at once, and return results."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS
    errors: list = []

    def run(index: int) -> None:
        try:
            caller = ActionCaller(Client(), token)
            barrier.wait(timeout=30)
            results[index] = caller(name, params_for_thread(index))
        except Exception as error:  # reported by the assert below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    return results


def test_concurrent_promotions_have_one_winner(admin_token, org):
    model = ModelVersionFactory(org=org)

    results = _call_concurrently(
        admin_token,
        "promote_model",
        lambda index: {"model_id": model.pk, "target_status": "validated"},
    )

    statuses = Counter(result.status for result in results)
    assert statuses == {200: 1, 409: THREADS - 1}
    model.refresh_from_db()
    assert model.status == "validated"
    assert ModelTransition.objects.filter(model_version=model).count() == 1


def test_concurrent_registrations_get_distinct_versions(admin_token, org):
    results = _call_concurrently(
        admin_token,
        "register_model",
        lambda index: {"name": "pick", "artifact_uri": f"s3://bucket/{index}.pt"},
    )

    assert [result.status for result in results] == [200] * THREADS
    versions = sorted(result.data["version"] for result in results)
    assert versions == list(range(1, THREADS + 1))
    assert ModelVersion.objects.filter(org=org, name="pick").count() == THREADS


def test_concurrent_results_are_recorded_once(admin_token, org):
    evaluation = EvaluationFactory(model_version=ModelVersionFactory(org=org))

    results = _call_concurrently(
        admin_token,
        "record_evaluation_result",
        lambda index: {
            "evaluation_id": evaluation.pk,
            "metrics": {"run": index},
            "passed": True,
        },
    )

    statuses = Counter(result.status for result in results)
    assert statuses == {200: 1, 409: THREADS - 1}
    winner = next(result for result in results if result.status == 200)
    stored = Evaluation.objects.get(pk=evaluation.pk)
    assert stored.metrics == winner.data["metrics"]
