"""The evaluations actions: listing, reading, creating and recording results."""

import pytest

from models_registry.models import Evaluation
from tests.factories import DatasetFactory, EvaluationFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------
# list_evaluations


def test_list_evaluations_returns_own_org_only(
    call, pending_evaluation, other_evaluation
):
    result = call("list_evaluations", {})

    assert result.status == 200
    assert [item["id"] for item in result.data] == [pending_evaluation.pk]
    assert result.body["meta"]["total"] == 1


def test_list_evaluations_filters_by_model(call, org, draft_model, pending_evaluation):
    sibling = ModelVersionFactory(org=org, name=draft_model.name, version=2)
    EvaluationFactory(model_version=sibling)

    result = call("list_evaluations", {"model_id": draft_model.pk})

    assert [item["id"] for item in result.data] == [pending_evaluation.pk]
    assert result.data[0]["model_id"] == draft_model.pk


def test_list_evaluations_filters_by_status_and_verdict(call, draft_model):
    passed = EvaluationFactory(
        model_version=draft_model, status="completed", passed=True
    )
    failed = EvaluationFactory(
        model_version=draft_model, status="completed", passed=False
    )
    pending = EvaluationFactory(model_version=draft_model)

    by_status = call("list_evaluations", {"status": "pending"}).data
    by_passed = call("list_evaluations", {"passed": True}).data
    by_failed = call("list_evaluations", {"passed": False}).data

    assert [item["id"] for item in by_status] == [pending.pk]
    assert [item["id"] for item in by_passed] == [passed.pk]
    assert [item["id"] for item in by_failed] == [failed.pk]


def test_list_evaluations_paginates_newest_first(call, draft_model):
    created = [EvaluationFactory(model_version=draft_model) for _ in range(4)]

    result = call("list_evaluations", {"limit": 2, "offset": 1})

    assert [item["id"] for item in result.data] == [created[2].pk, created[1].pk]
    assert result.body["meta"] == {"total": 4, "limit": 2, "offset": 1}


def test_list_evaluations_of_other_org_model_is_404(call, other_model):
    result = call("list_evaluations", {"model_id": other_model.pk})

    assert result.status == 404


# ---------------------------------------------------------------------------
# get_evaluation


def test_get_evaluation_fields(call, draft_model):
    evaluation = EvaluationFactory(
        model_version=draft_model,
        name="sim-pick-50",
        environment="sim:pick-cube",
        status="completed",
        metrics={"success_rate": 0.82},
        passed=True,
    )

    data = call("get_evaluation", {"evaluation_id": evaluation.pk}).data

    assert data["id"] == evaluation.pk
    assert data["model_id"] == draft_model.pk
    assert data["model_name"] == "pick-policy"
    assert data["model_version"] == 1
    assert data["name"] == "sim-pick-50"
    assert data["environment"] == "sim:pick-cube"
    assert data["status"] == "completed"
    assert data["metrics"] == {"success_rate": 0.82}
    assert data["passed"] is True


def test_get_evaluation_of_other_org_is_404(call, other_evaluation):
    result = call("get_evaluation", {"evaluation_id": other_evaluation.pk})

    assert result.status == 404
    assert result.body["code"] == "evaluation_not_found"


# ---------------------------------------------------------------------------
# create_evaluation


def test_create_evaluation_is_pending(call, org, draft_model):
    dataset = DatasetFactory(org=org)

    result = call(
        "create_evaluation",
        {
            "model_id": draft_model.pk,
            "name": "sim-pick-50",
            "dataset_id": dataset.pk,
            "environment": "sim:pick-cube",
            "notes": "50 episodes, seed 3",
        },
    )

    assert result.status == 200
    data = result.data
    assert data["status"] == "pending"
    assert data["passed"] is None
    assert data["dataset_id"] == dataset.pk
    assert data["environment"] == "sim:pick-cube"
    assert data["notes"] == "50 episodes, seed 3"
    assert data["created_by"] is not None
    stored = Evaluation.objects.get(pk=data["id"])
    assert stored.org == org
    assert stored.model_version == draft_model


def test_create_evaluation_of_other_org_model_is_404(call, other_model):
    result = call("create_evaluation", {"model_id": other_model.pk, "name": "e"})

    assert result.status == 404
    assert Evaluation.objects.count() == 0


def test_create_evaluation_on_other_org_dataset_is_404(call, other_org, draft_model):
    dataset = DatasetFactory(org=other_org)

    result = call(
        "create_evaluation",
        {"model_id": draft_model.pk, "name": "e", "dataset_id": dataset.pk},
    )

    assert result.status == 404
    assert Evaluation.objects.count() == 0


@pytest.mark.parametrize("status", ["pending_upload", "processing", "failed"])
def test_create_evaluation_on_unready_dataset_is_409(call, org, draft_model, status):
    dataset = DatasetFactory(org=org, status=status)

    result = call(
        "create_evaluation",
        {"model_id": draft_model.pk, "name": "e", "dataset_id": dataset.pk},
    )

    assert result.status == 409
    assert result.body["code"] == "dataset_not_ready"
    assert status in result.body["detail"]


def test_create_evaluation_blank_name_is_400(call, draft_model):
    result = call("create_evaluation", {"model_id": draft_model.pk, "name": "  "})

    assert result.status == 400
    assert "name" in result.body["errors"]


# ---------------------------------------------------------------------------
# record_evaluation_result


def test_record_evaluation_result_completes(call, pending_evaluation):
    result = call(
        "record_evaluation_result",
        {
            "evaluation_id": pending_evaluation.pk,
            "metrics": {"success_rate": 0.9, "episodes": 50},
            "passed": True,
            "notes": "Stable grasps",
        },
    )

    assert result.status == 200
    data = result.data
    assert data["status"] == "completed"
    assert data["passed"] is True
    assert data["metrics"] == {"success_rate": 0.9, "episodes": 50}
    assert data["notes"] == "Stable grasps"
    assert data["completed_at"] is not None
    pending_evaluation.refresh_from_db()
    assert pending_evaluation.status == "completed"


def test_record_evaluation_result_keeps_notes_when_omitted(call, draft_model):
    evaluation = EvaluationFactory(model_version=draft_model, notes="seed 3")

    data = call(
        "record_evaluation_result",
        {"evaluation_id": evaluation.pk, "metrics": {}, "passed": False},
    ).data

    assert data["notes"] == "seed 3"
    assert data["passed"] is False


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_record_evaluation_result_twice_is_409(call, draft_model, status):
    evaluation = EvaluationFactory(
        model_version=draft_model, status=status, metrics={"success_rate": 0.5}
    )

    result = call(
        "record_evaluation_result",
        {
            "evaluation_id": evaluation.pk,
            "metrics": {"success_rate": 1.0},
            "passed": True,
        },
    )

    assert result.status == 409
    assert result.body["code"] == "invalid_transition"
    evaluation.refresh_from_db()
    assert evaluation.metrics == {"success_rate": 0.5}


def test_record_evaluation_result_of_other_org_is_404(call, other_evaluation):
    result = call(
        "record_evaluation_result",
        {"evaluation_id": other_evaluation.pk, "metrics": {}, "passed": True},
    )

    assert result.status == 404
    other_evaluation.refresh_from_db()
    assert other_evaluation.status == "pending"
