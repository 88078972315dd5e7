"""The models actions: listing, registration, promotion and lineage."""

import pytest

from models_registry.models import ModelTransition, ModelVersion
from tests.factories import (
    DeploymentFactory,
    EvaluationFactory,
    ModelVersionFactory,
    RobotFactory,
    TrainingJobFactory,
)
from tests.models_registry.conftest import ARTIFACT_SHA256

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------
# list_models


def test_list_models_returns_own_org_only(call, org, draft_model, other_model):
    result = call("list_models", {})

    assert result.status == 200
    assert [item["id"] for item in result.data] == [draft_model.pk]
    assert result.body["meta"] == {"total": 1, "limit": 50, "offset": 0}


def test_list_models_item_fields(call, org, draft_model):
    item = call("list_models", {}).data[0]

    assert item["name"] == "pick-policy"
    assert item["version"] == 1
    assert item["status"] == "draft"
    assert item["artifact_uri"] == "artifacts/model.npz"
    assert item["training_job_id"] is None


def test_list_models_filters_by_status(call, org):
    ModelVersionFactory(org=org, name="pick", version=1, status="validated")
    draft = ModelVersionFactory(org=org, name="pick", version=2)

    result = call("list_models", {"status": "draft"})

    assert [item["id"] for item in result.data] == [draft.pk]


def test_list_models_filters_by_exact_name(call, org):
    pick = ModelVersionFactory(org=org, name="pick", version=1)
    ModelVersionFactory(org=org, name="pick-place", version=1)

    result = call("list_models", {"name": "pick"})

    assert [item["id"] for item in result.data] == [pick.pk]


def test_list_models_search_matches_name_and_description(call, org):
    by_name = ModelVersionFactory(org=org, name="Grasp-Policy", version=1)
    by_text = ModelVersionFactory(
        org=org, name="arm", version=1, description="trained on GRASP episodes"
    )
    ModelVersionFactory(org=org, name="push", version=1, description="push only")

    result = call("list_models", {"search": "grasp"})

    assert {item["id"] for item in result.data} == {by_name.pk, by_text.pk}


def test_list_models_orders_newest_version_first(call, org):
    for version in (1, 2, 3):
        ModelVersionFactory(org=org, name="pick", version=version)

    result = call("list_models", {"name": "pick"})

    assert [item["version"] for item in result.data] == [3, 2, 1]


def test_list_models_paginates(call, org):
    for version in range(1, 6):
        ModelVersionFactory(org=org, name="pick", version=version)

    result = call("list_models", {"limit": 2, "offset": 2})

    assert [item["version"] for item in result.data] == [3, 2]
    assert result.body["meta"] == {"total": 5, "limit": 2, "offset": 2}


# ---------------------------------------------------------------------------
# register_model


def test_register_model_with_artifact_uri(call, org):
    result = call(
        "register_model",
        {
            "name": "pick-policy",
            "artifact_uri": "s3://bucket/pick.pt",
            "model_type": "act",
            "description": "First try",
            "metrics": {"val_loss": 0.12},
            "tags": ["sim", "candidate", "sim"],
        },
    )

    assert result.status == 200
    data = result.data
    assert data["version"] == 1
    assert data["status"] == "draft"
    assert data["artifact_uri"] == "s3://bucket/pick.pt"
    assert data["model_type"] == "act"
    assert data["metrics"] == {"val_loss": 0.12}
    assert data["tags"] == ["sim", "candidate"]
    assert data["created_by"] is not None
    assert ModelVersion.objects.get(pk=data["id"]).org == org


def test_register_model_numbers_versions_per_name(call, org):
    params = {"artifact_uri": "s3://bucket/m.pt"}

    first = call("register_model", {"name": "pick", **params}).data
    second = call("register_model", {"name": "pick", **params}).data
    other = call("register_model", {"name": "place", **params}).data
    third = call("register_model", {"name": "pick", **params}).data

    assert first["version"] == 1
    assert second["version"] == 2
    assert other["version"] == 1
    assert third["version"] == 3


def test_register_model_numbers_versions_per_org(call, make_token, org, other_org):
    other_token = make_token(role="admin", org=other_org)
    params = {"name": "pick", "artifact_uri": "s3://bucket/m.pt"}

    ours = call("register_model", params).data
    theirs = call("register_model", params, token=other_token).data

    assert ours["version"] == 1
    assert theirs["version"] == 1
    assert ours["id"] != theirs["id"]


def test_register_model_from_training_job(call, succeeded_job):
    result = call(
        "register_model", {"name": "bc-grasp", "training_job_id": succeeded_job.id}
    )

    assert result.status == 200
    data = result.data
    assert data["training_job_id"] == succeeded_job.id
    assert data["artifact_uri"] == succeeded_job.artifact_key
    assert data["artifact_sha256"] == ARTIFACT_SHA256
    assert data["artifact_size"] == 123456
    assert data["model_type"] == "bc_mlp"


def test_register_model_prefers_given_artifact_uri(call, succeeded_job):
    result = call(
        "register_model",
        {
            "name": "bc-grasp",
            "training_job_id": succeeded_job.id,
            "artifact_uri": "gs://bucket/exported.onnx",
        },
    )

    data = result.data
    assert data["artifact_uri"] == "gs://bucket/exported.onnx"
    assert data["artifact_sha256"] == ""
    assert data["artifact_size"] is None
    assert data["model_type"] == "bc_mlp"


@pytest.mark.parametrize(
    "status", ["pending", "queued", "running", "failed", "cancelled"]
)
def test_register_model_from_unfinished_job_is_409(call, org, status):
    job = TrainingJobFactory(org=org, status=status, artifact_key="a/model.npz")

    result = call("register_model", {"name": "bc", "training_job_id": job.id})

    assert result.status == 409
    assert result.body["code"] == "training_job_not_succeeded"
    assert status in result.body["detail"]
    assert ModelVersion.objects.count() == 0


def test_register_model_from_other_org_job_is_404(call, other_org):
    job = TrainingJobFactory(org=other_org, status="succeeded", artifact_key="a/m.npz")

    result = call("register_model", {"name": "bc", "training_job_id": job.id})

    assert result.status == 404
    assert ModelVersion.objects.count() == 0


def test_register_model_from_unknown_job_is_404(call, org):
    result = call("register_model", {"name": "bc", "training_job_id": "0123456789ab"})

    assert result.status == 404
    assert "0123456789ab" in result.body["detail"]


def test_register_model_without_artifact_or_job_is_400(call, org):
    result = call("register_model", {"name": "bc"})

    assert result.status == 400
    assert "artifact_uri" in result.body["detail"]
    assert "training_job_id" in result.body["detail"]


def test_register_model_from_job_without_artifact_is_400(call, org):
    job = TrainingJobFactory(org=org, status="succeeded", artifact_key="")

    result = call("register_model", {"name": "bc", "training_job_id": job.id})

    assert result.status == 400
    assert job.id in result.body["detail"]
    assert "artifact_uri" in result.body["errors"]


def test_register_model_name_with_control_character_is_400(call, org):
    result = call("register_model", {"name": "pick\tpolicy", "artifact_uri": "a"})

    assert result.status == 400
    assert "name" in result.body["errors"]


# ---------------------------------------------------------------------------
# promote_model


def test_promote_model_records_transition(call, org, draft_model):
    result = call(
        "promote_model",
        {"model_id": draft_model.pk, "target_status": "validated", "reason": "Sim OK"},
    )

    assert result.status == 200
    assert result.data["status"] == "validated"
    transition = ModelTransition.objects.get(model_version=draft_model)
    assert transition.from_status == "draft"
    assert transition.to_status == "validated"
    assert transition.reason == "Sim OK"
    assert transition.changed_by is not None
    assert transition.created_at is not None


@pytest.mark.parametrize(
    "path",
    [
        ["validated", "deployed", "retired"],
        ["validated", "retired"],
    ],
)
def test_promote_model_through_lifecycle(call, org, draft_model, path):
    for target in path:
        result = call(
            "promote_model", {"model_id": draft_model.pk, "target_status": target}
        )
        assert result.status == 200, result.body

    draft_model.refresh_from_db()
    assert draft_model.status == path[-1]
    recorded = list(
        ModelTransition.objects.filter(model_version=draft_model).values_list(
            "from_status", "to_status"
        )
    )
    assert recorded == list(zip(["draft", *path[:-1]], path, strict=True))


@pytest.mark.parametrize(
    ("status", "target", "allowed"),
    [
        ("draft", "deployed", "validated"),
        ("draft", "retired", "validated"),
        ("draft", "draft", "validated"),
        ("validated", "draft", "deployed, retired"),
        ("validated", "validated", "deployed, retired"),
        ("deployed", "validated", "retired"),
        ("deployed", "draft", "retired"),
        ("retired", "deployed", "none"),
        ("retired", "draft", "none"),
    ],
)
def test_promote_model_disallowed_transition_is_409(call, org, status, target, allowed):
    model = ModelVersionFactory(org=org, status=status)

    result = call("promote_model", {"model_id": model.pk, "target_status": target})

    assert result.status == 409
    assert result.body["code"] == "invalid_transition"
    assert f"allowed next: {allowed}" in result.body["detail"]
    model.refresh_from_db()
    assert model.status == status
    assert not ModelTransition.objects.filter(model_version=model).exists()


def test_promote_model_unknown_target_is_400(call, draft_model):
    result = call(
        "promote_model", {"model_id": draft_model.pk, "target_status": "gold"}
    )

    assert result.status == 400
    assert "target_status" in result.body["errors"]


def test_promote_model_of_other_org_is_404(call, other_model):
    result = call(
        "promote_model", {"model_id": other_model.pk, "target_status": "validated"}
    )

    assert result.status == 404
    other_model.refresh_from_db()
    assert other_model.status == "draft"


def test_promote_model_unknown_id_is_404(call, org):
    result = call("promote_model", {"model_id": 987654, "target_status": "validated"})

    assert result.status == 404
    assert result.body["code"] == "modelversion_not_found"


# ---------------------------------------------------------------------------
# the organisation's passing-evaluation requirement


@pytest.fixture
def strict_org(org):
    org.require_passing_evaluation = True
    org.save(update_fields=["require_passing_evaluation"])
    return org


def _validate(call, model):
    return call("promote_model", {"model_id": model.pk, "target_status": "validated"})


def test_validate_without_requirement(call, draft_model):
    assert _validate(call, draft_model).status == 200


def test_required_evaluation_missing_is_409(call, strict_org, draft_model):
    result = _validate(call, draft_model)

    assert result.status == 409
    assert result.body["code"] == "passing_evaluation_required"
    assert "passing evaluation" in result.body["detail"]


@pytest.mark.parametrize(
    ("status", "passed"),
    [("pending", None), ("completed", False), ("failed", None), ("failed", True)],
)
def test_required_evaluation_not_passed_is_409(
    call, strict_org, draft_model, status, passed
):
    EvaluationFactory(model_version=draft_model, status=status, passed=passed)

    assert _validate(call, draft_model).status == 409


def test_required_evaluation_of_sibling_ignored(call, strict_org, draft_model):
    sibling = ModelVersionFactory(org=strict_org, name="pick-policy", version=2)
    EvaluationFactory(model_version=sibling, status="completed", passed=True)

    assert _validate(call, draft_model).status == 409


def test_required_evaluation_passed_validates(call, strict_org, draft_model):
    EvaluationFactory(model_version=draft_model, status="completed", passed=False)
    EvaluationFactory(model_version=draft_model, status="completed", passed=True)

    result = _validate(call, draft_model)

    assert result.status == 200
    assert result.data["status"] == "validated"


def test_required_evaluation_skips_retirement(call, strict_org):
    model = ModelVersionFactory(org=strict_org, status="validated")

    result = call("promote_model", {"model_id": model.pk, "target_status": "retired"})

    assert result.status == 200


# ---------------------------------------------------------------------------
# get_model_lineage


def test_get_model_lineage_contents(call, org, succeeded_job, job_datasets):
    registered = call(
        "register_model", {"name": "bc-grasp", "training_job_id": succeeded_job.id}
    ).data
    call(
        "promote_model",
        {"model_id": registered["id"], "target_status": "validated", "reason": "ok"},
    )
    model = ModelVersion.objects.get(pk=registered["id"])
    robot = RobotFactory(org=org, robot_id="arm-07", name="Arm seven")
    deployment = DeploymentFactory(
        org=org, robot=robot, model_version=model, status="succeeded"
    )
    evaluation = call(
        "create_evaluation",
        {"model_id": model.pk, "name": "sim-pick-50", "environment": "sim"},
    ).data

    result = call("get_model_lineage", {"model_id": model.pk})

    assert result.status == 200
    lineage = result.data
    assert lineage["model"]["id"] == model.pk
    assert lineage["model"]["status"] == "validated"

    assert len(lineage["transitions"]) == 1
    assert lineage["transitions"][0]["from_status"] == "draft"
    assert lineage["transitions"][0]["to_status"] == "validated"
    assert lineage["transitions"][0]["reason"] == "ok"
    assert lineage["transitions"][0]["changed_by"] is not None

    job = lineage["training_job"]
    assert job["id"] == succeeded_job.id
    assert job["name"] == "bc-grasp"
    assert job["status"] == "succeeded"
    assert job["hyperparameters"] == {"epochs": 20, "learning_rate": 0.001}
    assert job["final_metrics"] == {"epoch": 20, "train_loss": 0.042}

    datasets = sorted(lineage["datasets"], key=lambda d: d["id"])
    assert [d["id"] for d in datasets] == [d.pk for d in job_datasets]
    assert [d["sha256"] for d in datasets] == ["a1" * 32, "b2" * 32]
    assert [d["size_bytes"] for d in datasets] == [48112, 90210]
    assert [d["episode_count"] for d in datasets] == [10, 25]

    assert len(lineage["deployments"]) == 1
    assert lineage["deployments"][0]["id"] == deployment.pk
    assert lineage["deployments"][0]["robot_id"] == "arm-07"
    assert lineage["deployments"][0]["status"] == "succeeded"

    assert [e["id"] for e in lineage["evaluations"]] == [evaluation["id"]]
    assert lineage["evaluations"][0]["status"] == "pending"


def test_get_model_lineage_excludes_other_versions(call, org, succeeded_job):
    model = ModelVersionFactory(org=org, training_job=succeeded_job, status="validated")
    sibling = ModelVersionFactory(
        org=org, name=model.name, version=2, status="validated"
    )
    DeploymentFactory(org=org, robot=RobotFactory(org=org), model_version=sibling)
    EvaluationFactory(model_version=sibling)

    lineage = call("get_model_lineage", {"model_id": model.pk}).data

    assert lineage["deployments"] == []
    assert lineage["evaluations"] == []


def test_get_model_lineage_without_job(call, draft_model):
    lineage = call("get_model_lineage", {"model_id": draft_model.pk}).data

    assert lineage["training_job"] is None
    assert lineage["datasets"] == []
    assert lineage["transitions"] == []


def test_get_model_lineage_of_other_org_is_404(call, other_model):
    result = call("get_model_lineage", {"model_id": other_model.pk})

    assert result.status == 404
