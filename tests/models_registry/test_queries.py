"""Query counts of the list and lineage actions do not grow with rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_registry.models import ModelTransition
from tests.factories import (
    DatasetFactory,
    DeploymentFactory,
    EvaluationFactory,
    ModelVersionFactory,
    RobotFactory,
    TrainingJobFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _count_queries(call, name, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        result = call(name, params)
    assert result.status == 200, result.body
    return len(captured.captured_queries)


def _add_models(org, user, start, stop):
    for version in range(start, stop):
        ModelVersionFactory(org=org, name="pick", version=version, created_by=user)


def test_list_models_query_count_is_constant(call, org):
    user = UserFactory()
    call("list_models", {})  # the first call also stamps the token's last use
    _add_models(org, user, 1, 4)
    few = _count_queries(call, "list_models", {"limit": 200})

    _add_models(org, user, 4, 31)
    many = _count_queries(call, "list_models", {"limit": 200})

    assert many == few


def test_list_evaluations_query_count_is_constant(call, org):
    user = UserFactory()
    model = ModelVersionFactory(org=org)
    call("list_evaluations", {})
    for _ in range(3):
        EvaluationFactory(model_version=model, created_by=user)
    few = _count_queries(call, "list_evaluations", {"limit": 200})

    for index in range(27):
        other_model = ModelVersionFactory(org=org, name=f"m{index}")
        EvaluationFactory(model_version=other_model, created_by=user)
    many = _count_queries(call, "list_evaluations", {"limit": 200})

    assert many == few


def _grow_lineage(org, model, job, user, count):
    for _ in range(count):
        job.datasets.add(DatasetFactory(org=org))
        DeploymentFactory(org=org, robot=RobotFactory(org=org), model_version=model)
        EvaluationFactory(model_version=model, created_by=user)
        ModelTransition.objects.create(
            model_version=model,
            from_status="draft",
            to_status="validated",
            changed_by=user,
        )


def test_get_model_lineage_query_count_is_constant(call, org):
    user = UserFactory()
    job = TrainingJobFactory(org=org, status="succeeded", artifact_key="a/m.npz")
    model = ModelVersionFactory(org=org, training_job=job, status="validated")
    call("get_model_lineage", {"model_id": model.pk})
    _grow_lineage(org, model, job, user, 1)
    few = _count_queries(call, "get_model_lineage", {"model_id": model.pk})

    _grow_lineage(org, model, job, user, 9)
    many = _count_queries(call, "get_model_lineage", {"model_id": model.pk})

    assert many == few
