"""The training actions through the real URL, authentication and serializers."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from centeros.errors import Conflict
from datasets.services import dataset_delete
from tests.factories import DatasetFactory, TrainingJobFactory
from training import catalog, costs
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

TRAINING_ACTIONS = [
    ("list_training_jobs", "training:read"),
    ("create_training_job", "training:write"),
    ("get_training_status", "training:read"),
    ("launch_training", "training:write"),
    ("cancel_training", "training:write"),
    ("get_training_logs", "training:read"),
    ("get_finetune_catalog", "training:read"),
    ("estimate_cost", "training:read"),
]


@pytest.fixture
def dataset(org):
    return DatasetFactory(org=org)


@pytest.fixture
def job(org, dataset):
    return TrainingJobFactory(org=org, datasets=[dataset])


def _valid_params(name, *, job, dataset):
    return {
        "list_training_jobs": {},
        "create_training_job": {"dataset_ids": [dataset.pk]},
        "get_training_status": {"job_id": job.pk},
        "launch_training": {"job_id": job.pk},
        "cancel_training": {"job_id": job.pk},
        "get_training_logs": {"job_id": job.pk},
        "get_finetune_catalog": {},
        "estimate_cost": {"dataset_ids": [dataset.pk]},
    }[name]


# ---------------------------------------------------------------------------
# Scopes, for every action


@pytest.mark.parametrize(("name", "scope"), TRAINING_ACTIONS)
def test_scope_other_area_is_403(call, make_token, org, job, dataset, name, scope):
    token = make_token(role="admin", scopes=["datasets:read"], org=org)

    result = call(name, _valid_params(name, job=job, dataset=dataset), token=token)

    assert result.status == 403
    assert scope in result.body["detail"]


@pytest.mark.parametrize(("name", "scope"), TRAINING_ACTIONS)
def test_scope_annotator_role_is_403(call, make_token, org, job, dataset, name, scope):
    token = make_token(role="annotator", scopes=["*"], org=org)

    result = call(name, _valid_params(name, job=job, dataset=dataset), token=token)

    assert result.status == 403


@pytest.mark.parametrize(
    ("name", "scope"),
    [item for item in TRAINING_ACTIONS if item[1] == "training:write"],
)
def test_scope_read_only_token_cannot_write(
    call, make_token, org, job, dataset, name, scope
):
    viewer = make_token(role="viewer", scopes=["*"], org=org)
    read_only = make_token(role="admin", scopes=["training:read"], org=org)

    for token in (viewer, read_only):
        result = call(name, _valid_params(name, job=job, dataset=dataset), token=token)
        assert result.status == 403, result


@pytest.mark.parametrize(
    ("name", "scope"), [item for item in TRAINING_ACTIONS if item[1] == "training:read"]
)
def test_scope_viewer_can_read(call, make_token, org, job, dataset, name, scope):
    token = make_token(role="viewer", scopes=["*"], org=org)

    result = call(name, _valid_params(name, job=job, dataset=dataset), token=token)

    assert result.status == 200, result


@pytest.mark.parametrize("name", [name for name, _ in TRAINING_ACTIONS])
def test_no_token_is_401(call, job, dataset, name):
    result = call(name, _valid_params(name, job=job, dataset=dataset), token=None)

    assert result.status == 401


@pytest.mark.parametrize("name", [name for name, _ in TRAINING_ACTIONS])
def test_unknown_param_is_400(call, job, dataset, name):
    params = _valid_params(name, job=job, dataset=dataset) | {"colour": "red"}

    result = call(name, params)

    assert result.status == 400
    assert "colour" in result.body["errors"]


# ---------------------------------------------------------------------------
# list_training_jobs


def test_list_returns_org_jobs_only(call, org, other_org, job):
    TrainingJobFactory(org=other_org)

    result = call("list_training_jobs")

    assert result.status == 200
    assert [item["id"] for item in result.data] == [job.pk]
    assert result.body["meta"]["total"] == 1
    assert result.data[0]["dataset_ids"] == [job.datasets.get().pk]


def test_list_filters_status_and_model_type(call, org, dataset):
    pending = TrainingJobFactory(org=org, datasets=[dataset])
    TrainingJobFactory(org=org, status="failed")
    act = TrainingJobFactory(org=org, model_type="act")

    by_status = call("list_training_jobs", {"status": "pending"})
    by_type = call("list_training_jobs", {"model_type": "act"})
    by_alias = call("list_training_jobs", {"model_type": "bc"})

    assert {item["id"] for item in by_status.data} == {pending.pk, act.pk}
    assert [item["id"] for item in by_type.data] == [act.pk]
    assert act.pk not in {item["id"] for item in by_alias.data}
    assert len(by_alias.data) == 2


def test_list_limit_and_offset(call, org):
    jobs = [TrainingJobFactory(org=org) for _ in range(5)]
    newest_first = [job.pk for job in reversed(jobs)]

    result = call("list_training_jobs", {"limit": 2, "offset": 1})

    assert [item["id"] for item in result.data] == newest_first[1:3]
    assert result.body["meta"] == {"total": 5, "limit": 2, "offset": 1}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "5"},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": 2**70},
        {"status": "done"},
        {"status": 3},
        {"model_type": 7},
        {"limit": True},
    ],
)
def test_list_invalid_params_are_400(call, params):
    result = call("list_training_jobs", params)

    assert result.status == 400
    assert next(iter(params)) in result.body["errors"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_list_non_finite_limit_is_400(call, literal):
    result = call("list_training_jobs", body=f'{{"params": {{"limit": {literal}}}}}')

    assert result.status == 400


def test_list_query_count_does_not_grow(call, org):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            result = call("list_training_jobs", {"limit": 200})
        assert result.status == 200
        return len(queries)

    def add_jobs(number: int) -> None:
        for _ in range(number):
            datasets = DatasetFactory.create_batch(2, org=org)
            TrainingJobFactory(org=org, datasets=datasets)

    # The first call also records the token's last use; later calls do not.
    call("list_training_jobs")
    add_jobs(3)
    few = count_queries()
    add_jobs(27)
    many = count_queries()

    assert many == few


# ---------------------------------------------------------------------------
# create_training_job


def test_create_defaults_to_pending_bc_mlp(call, org, dataset):
    result = call(
        "create_training_job", {"dataset_ids": [dataset.pk], "name": "pick-v1"}
    )

    assert result.status == 200
    data = result.data
    assert data["status"] == "pending"
    assert data["model_type"] == "bc_mlp"
    assert data["mode"] == "train"
    assert data["name"] == "pick-v1"
    assert data["dataset_ids"] == [dataset.pk]
    job = TrainingJob.objects.get(pk=data["id"])
    assert len(job.pk) == 12
    assert int(job.pk, 16) >= 0
    assert job.org == org


def test_create_stores_settings(call, dataset):
    params = {
        "dataset_ids": [dataset.pk, dataset.pk],
        "model_type": "bc",
        "hyperparameters": {
            "epochs": 20,
            "batch_size": 32,
            "learning_rate": 0.002,
            "hidden_sizes": [64, 64],
            "seed": 3,
            "validation_split": 0.2,
        },
        "compute": {"gpu_type": "L4", "gpu_count": 0, "max_hours": 1.5},
    }

    data = call("create_training_job", params).data

    assert data["model_type"] == "bc_mlp"
    assert data["dataset_ids"] == [dataset.pk]
    assert data["hyperparameters"] == params["hyperparameters"]
    assert data["compute"] == params["compute"]
    assert data["total_epochs"] == 20


def test_create_finetune_with_catalog_base_model(call, dataset):
    params = {
        "dataset_ids": [dataset.pk],
        "mode": "finetune",
        "base_model": "lerobot/act",
    }

    data = call("create_training_job", params).data

    assert data["mode"] == "finetune"
    assert data["base_model"] == "lerobot/act"
    assert data["model_type"] == catalog.get_base_model("lerobot/act")["model_type"]


def test_create_missing_dataset_ids_is_400(call):
    result = call("create_training_job", {"name": "x"})

    assert result.status == 400
    assert "dataset_ids" in result.body["errors"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dataset_ids": []}, "dataset_ids"),
        ({"dataset_ids": "1"}, "dataset_ids"),
        ({"dataset_ids": 1}, "dataset_ids"),
        ({"dataset_ids": [True]}, "dataset_ids.0"),
        ({"dataset_ids": ["1"]}, "dataset_ids.0"),
        ({"dataset_ids": [0]}, "dataset_ids.0"),
        ({"dataset_ids": [2**70]}, "dataset_ids.0"),
        ({"name": 5}, "name"),
        ({"model_type": ["bc"]}, "model_type"),
        ({"mode": "distill"}, "mode"),
        ({"hyperparameters": [1]}, "hyperparameters"),
        ({"compute": "big"}, "compute"),
        ({"compute": {"gpu_count": 65}}, "compute.gpu_count"),
        ({"compute": {"gpu_count": -1}}, "compute.gpu_count"),
        ({"compute": {"gpu_count": 1.5}}, "compute.gpu_count"),
        ({"compute": {"max_hours": 0}}, "compute.max_hours"),
        ({"compute": {"max_hours": "2"}}, "compute.max_hours"),
        ({"compute": {"disk_gb": 2}}, "compute.disk_gb"),
    ],
)
def test_create_invalid_types_are_400(call, dataset, params, field):
    params = {"dataset_ids": [dataset.pk]} | params

    result = call("create_training_job", params)

    assert result.status == 400
    assert field in result.body["errors"], result.body


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"epochs": 0}, "hyperparameters.epochs"),
        ({"epochs": 10001}, "hyperparameters.epochs"),
        ({"epochs": "5"}, "hyperparameters.epochs"),
        ({"epochs": 5.0}, "hyperparameters.epochs"),
        ({"epochs": True}, "hyperparameters.epochs"),
        ({"batch_size": 0}, "hyperparameters.batch_size"),
        ({"learning_rate": 0}, "hyperparameters.learning_rate"),
        ({"learning_rate": -0.1}, "hyperparameters.learning_rate"),
        ({"learning_rate": "fast"}, "hyperparameters.learning_rate"),
        ({"hidden_sizes": ["64"]}, "hyperparameters.hidden_sizes"),
        ({"hidden_sizes": 64}, "hyperparameters.hidden_sizes"),
        ({"hidden_sizes": []}, "hyperparameters.hidden_sizes"),
        ({"seed": -1}, "hyperparameters.seed"),
        ({"validation_split": 0.6}, "hyperparameters.validation_split"),
        ({"validation_split": -0.1}, "hyperparameters.validation_split"),
        ({"dropout": 0.1}, "hyperparameters.dropout"),
    ],
)
def test_create_invalid_hyperparameters_are_400(call, dataset, hyperparameters, field):
    params = {"dataset_ids": [dataset.pk], "hyperparameters": hyperparameters}

    result = call("create_training_job", params)

    assert result.status == 400
    assert field in result.body["errors"], result.body
    assert field in result.body["detail"]


def test_create_framework_model_keeps_unknown_hyperparameters(call, dataset):
    params = {
        "dataset_ids": [dataset.pk],
        "model_type": "act",
        "hyperparameters": {"chunk_size": 100, "epochs": 3},
    }

    data = call("create_training_job", params).data

    assert data["hyperparameters"] == {"chunk_size": 100, "epochs": 3}


@pytest.mark.parametrize(
    "body",
    [
        '{"params": {"dataset_ids": [1], "hyperparameters": {"learning_rate": NaN}}}',
        '{"params": {"dataset_ids": [1], "hyperparameters": {"epochs": 1e400}}}',
        '{"params": {"dataset_ids": [1], "compute": {"max_hours": Infinity}}}',
        '{"params": {"dataset_ids": [NaN]}}',
        '{"params": {"dataset_ids": [1], "compute": {"gpu_count": 99999999999999999999999}}}',
    ],
)
def test_create_non_finite_numbers_are_400(call, body):
    result = call("create_training_job", body=body)

    assert result.status == 400


def test_create_other_org_dataset_is_404(call, other_org, dataset):
    foreign = DatasetFactory(org=other_org)

    result = call("create_training_job", {"dataset_ids": [dataset.pk, foreign.pk]})

    assert result.status == 404
    assert str(foreign.pk) in result.body["detail"]
    assert TrainingJob.objects.count() == 0


def test_create_unknown_dataset_is_404(call):
    result = call("create_training_job", {"dataset_ids": [987654]})

    assert result.status == 404


@pytest.mark.parametrize("status", ["pending_upload", "processing", "failed"])
def test_create_dataset_not_ready_is_409(call, org, status):
    dataset = DatasetFactory(org=org, status=status, name="half-uploaded")

    result = call("create_training_job", {"dataset_ids": [dataset.pk]})

    assert result.status == 409
    assert str(dataset.pk) in result.body["detail"]
    assert "half-uploaded" in result.body["detail"]
    assert status in result.body["detail"]


def test_create_finetune_without_base_model_is_400(call, dataset):
    result = call(
        "create_training_job", {"dataset_ids": [dataset.pk], "mode": "finetune"}
    )

    assert result.status == 400
    assert "base_model" in result.body["errors"]


def test_create_unknown_base_model_is_400(call, dataset):
    params = {
        "dataset_ids": [dataset.pk],
        "mode": "finetune",
        "base_model": "acme/gpt-9",
    }

    result = call("create_training_job", params)

    assert result.status == 400
    assert "acme/gpt-9" in result.body["detail"]


def test_create_base_model_of_other_type_is_400(call, dataset):
    params = {
        "dataset_ids": [dataset.pk],
        "mode": "finetune",
        "base_model": "lerobot/act",
        "model_type": "bc_mlp",
    }

    result = call("create_training_job", params)

    assert result.status == 400
    assert "model_type" in result.body["errors"]


def test_create_base_model_in_train_mode_is_400(call, dataset):
    params = {"dataset_ids": [dataset.pk], "base_model": "lerobot/act"}

    result = call("create_training_job", params)

    assert result.status == 400
    assert "base_model" in result.body["errors"]


def test_create_unknown_model_type_is_400(call, dataset):
    result = call(
        "create_training_job", {"dataset_ids": [dataset.pk], "model_type": "gpt"}
    )

    assert result.status == 400
    assert "gpt" in result.body["detail"]


def test_create_unknown_gpu_type_is_400(call, dataset):
    params = {"dataset_ids": [dataset.pk], "compute": {"gpu_type": "TPU-v9"}}

    result = call("create_training_job", params)

    assert result.status == 400
    assert "TPU-v9" in result.body["detail"]


def test_create_bc_mlp_on_mcap_is_400(call, org):
    mcap = DatasetFactory(org=org, file_type="mcap")

    result = call("create_training_job", {"dataset_ids": [mcap.pk]})

    assert result.status == 400
    assert "mcap" in result.body["detail"]


# ---------------------------------------------------------------------------
# get_training_status


def test_status_shows_progress_history_and_artifact(call, org, dataset):
    now = timezone.now()
    history = [
        {"epoch": 1, "loss": 2.0, "val_loss": 2.1, "at": now.isoformat()},
        {"epoch": 2, "loss": 1.5, "val_loss": None, "at": now.isoformat()},
    ]
    job = TrainingJobFactory(
        org=org,
        datasets=[dataset],
        status="succeeded",
        progress=1.0,
        current_epoch=2,
        total_epochs=2,
        metrics=history,
        latest_metrics=history[-1],
        artifact_key="artifacts/1/x/model.npz",
        artifact_sha256="a" * 64,
        artifact_size=1234,
        started_at=now,
        finished_at=now,
    )

    data = call("get_training_status", {"job_id": job.pk}).data

    assert data["status"] == "succeeded"
    assert data["progress"] == 1.0
    assert data["current_epoch"] == 2
    assert data["total_epochs"] == 2
    assert data["metrics"] == history
    assert data["latest_metrics"] == history[-1]
    assert data["artifact"] == {
        "key": "artifacts/1/x/model.npz",
        "sha256": "a" * 64,
        "size_bytes": 1234,
    }
    assert data["started_at"] == now.isoformat()
    assert data["error"] is None


def test_status_accepts_uppercase_job_id(call, job):
    result = call("get_training_status", {"job_id": job.pk.upper()})

    assert result.data["id"] == job.pk


def test_status_missing_job_id_is_400(call):
    result = call("get_training_status", {})

    assert result.status == 400
    assert "job_id" in result.body["errors"]


@pytest.mark.parametrize(
    "job_id",
    ["xyz123xyz123", "abc", "abc123def4567", "", "abc123def45 ", 123456789012, None],
)
def test_status_invalid_job_id_is_400(call, job_id):
    result = call("get_training_status", {"job_id": job_id})

    assert result.status == 400
    assert "job_id" in result.body["errors"]


def test_status_other_org_job_is_404(call, other_org):
    foreign = TrainingJobFactory(org=other_org)

    result = call("get_training_status", {"job_id": foreign.pk})

    assert result.status == 404
    assert result.body["code"] == "trainingjob_not_found"


def test_status_unknown_job_is_404(call):
    result = call("get_training_status", {"job_id": "0123456789ab"})

    assert result.status == 404


# ---------------------------------------------------------------------------
# launch_training


def test_launch_queues_and_enqueues(call, job, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = call("launch_training", {"job_id": job.pk})

    assert result.status == 200
    assert result.data["status"] == "queued"
    job.refresh_from_db()
    assert job.status == "queued"
    assert job.queued_at is not None
    assert job.executor == "local"
    task = DBTaskResult.objects.get(pk=job.task_result_id)
    assert task.queue_name == "training"
    assert task.args_kwargs["args"] == [job.pk]


def test_launch_twice_is_409(call, job, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = call("launch_training", {"job_id": job.pk})
    second = call("launch_training", {"job_id": job.pk})

    assert first.status == 200
    assert second.status == 409
    assert "queued" in second.body["detail"]
    assert DBTaskResult.objects.count() == 1


@pytest.mark.parametrize("status", ["running", "succeeded", "failed", "cancelled"])
def test_launch_not_pending_is_409(call, org, dataset, status):
    job = TrainingJobFactory(org=org, datasets=[dataset], status=status)

    result = call("launch_training", {"job_id": job.pk})

    assert result.status == 409
    assert status in result.body["detail"]


def test_launch_other_org_job_is_404(call, other_org):
    foreign = TrainingJobFactory(
        org=other_org, datasets=[DatasetFactory(org=other_org)]
    )

    result = call("launch_training", {"job_id": foreign.pk})

    assert result.status == 404
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_launch_missing_job_id_is_400(call):
    assert call("launch_training", {}).status == 400


def test_launch_job_without_datasets_is_409(call, org):
    job = TrainingJobFactory(org=org)

    result = call("launch_training", {"job_id": job.pk})

    assert result.status == 409
    assert result.body["code"] == "datasets_deleted"


# ---------------------------------------------------------------------------
# cancel_training


@pytest.mark.parametrize("status", ["pending", "queued", "running"])
def test_cancel_active_job(call, org, dataset, status):
    job = TrainingJobFactory(org=org, datasets=[dataset], status=status)

    result = call("cancel_training", {"job_id": job.pk})

    assert result.status == 200
    assert result.data["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.cancel_requested is True
    assert job.finished_at is not None


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_cancel_finished_job_is_409(call, org, status):
    job = TrainingJobFactory(org=org, status=status)

    result = call("cancel_training", {"job_id": job.pk})

    assert result.status == 409
    assert status in result.body["detail"]


def test_cancel_other_org_job_is_404(call, other_org):
    foreign = TrainingJobFactory(org=other_org)

    result = call("cancel_training", {"job_id": foreign.pk})

    assert result.status == 404
    foreign.refresh_from_db()
    assert foreign.status == "pending"


def test_cancel_invalid_job_id_is_400(call):
    assert call("cancel_training", {"job_id": "not-a-job-id"}).status == 400


# ---------------------------------------------------------------------------
# get_training_logs


def test_logs_return_tail(call, org):
    lines = [f"epoch {number}" for number in range(1, 31)]
    job = TrainingJobFactory(org=org, logs="\n".join(lines))

    full = call("get_training_logs", {"job_id": job.pk}).data
    tail = call("get_training_logs", {"job_id": job.pk, "lines": 5}).data

    assert full["lines"] == lines
    assert full["truncated"] is False
    assert tail["lines"] == lines[-5:]
    assert tail["truncated"] is True


@pytest.mark.parametrize("lines", [0, 201, "5", 2.5])
def test_logs_invalid_lines_is_400(call, job, lines):
    result = call("get_training_logs", {"job_id": job.pk, "lines": lines})

    assert result.status == 400
    assert "lines" in result.body["errors"]


def test_logs_other_org_job_is_404(call, other_org):
    foreign = TrainingJobFactory(org=other_org, logs="secret")

    assert call("get_training_logs", {"job_id": foreign.pk}).status == 404


# ---------------------------------------------------------------------------
# get_finetune_catalog


def test_catalog_lists_models_and_providers(call):
    data = call("get_finetune_catalog").data

    reference = catalog.load_catalog()
    assert data["version"] == reference["version"]
    assert [model["name"] for model in data["models"]] == [
        model["name"] for model in reference["models"]
    ]
    assert {provider["id"] for provider in data["providers"]} >= {"lerobot", "nvidia"}


# ---------------------------------------------------------------------------
# estimate_cost


def test_estimate_from_datasets_shows_inputs(call, org):
    first = DatasetFactory(org=org, size_bytes=1000, episode_count=4, frame_count=400)
    second = DatasetFactory(org=org, size_bytes=500, episode_count=2, frame_count=100)
    params = {
        "dataset_ids": [first.pk, second.pk],
        "epochs": 10,
        "gpu_type": "L4",
        "gpu_count": 2,
        "provider": "aws",
    }

    data = call("estimate_cost", params).data

    expected = costs.estimate_cost(
        dataset_bytes=1500,
        episodes=6,
        frames=500,
        model_type="bc_mlp",
        epochs=10,
        steps=None,
        gpu_type="L4",
        gpu_count=2,
        provider="aws",
        base_model=None,
    )
    assert data["inputs"]["dataset_ids"] == [first.pk, second.pk]
    assert data["inputs"]["frames"] == 500
    assert data["samples"] == 5000
    assert data["total_usd"] == expected["total_usd"]
    assert data["gpu_hours"] == pytest.approx(expected["gpu_hours"])
    assert data["formula"] == expected["formula"]


def test_estimate_from_job_uses_its_settings(call, org, dataset):
    job = TrainingJobFactory(
        org=org,
        datasets=[dataset],
        hyperparameters={"epochs": 7},
        compute={"gpu_type": "T4", "gpu_count": 1},
    )

    data = call("estimate_cost", {"job_id": job.pk}).data

    assert data["inputs"]["defaults_from"] == f"training job {job.pk}"
    assert data["epochs"] == 7
    assert data["gpu_type"] == "T4"
    assert data["frames"] == dataset.frame_count
    assert data["samples"] == 7 * dataset.frame_count


def test_estimate_with_steps_needs_no_datasets(call):
    data = call("estimate_cost", {"model_type": "act", "steps": 1000}).data

    assert data["model_type"] == "act"
    assert data["samples"] == 1000 * data["batch_size"]


@pytest.mark.parametrize(
    "params",
    [
        {"gpu_type": "TPU-v9", "steps": 10},
        {"provider": "moon", "steps": 10},
        {"model_type": "gpt", "steps": 10},
        {"base_model": "acme/none", "model_type": "act", "steps": 10},
        {"epochs": 5, "steps": 10},
        {"epochs": 5},
    ],
)
def test_estimate_invalid_inputs_are_400(call, params):
    result = call("estimate_cost", params)

    assert result.status == 400
    assert result.body["detail"].endswith(".")


def test_estimate_both_sources_is_400(call, job, dataset):
    result = call("estimate_cost", {"job_id": job.pk, "dataset_ids": [dataset.pk]})

    assert result.status == 400


@pytest.mark.parametrize(
    "params",
    [
        {"epochs": 0},
        {"gpu_count": 0},
        {"epochs": "5"},
        {"steps": 2**70},
        {"job_id": "zz"},
    ],
)
def test_estimate_invalid_types_are_400(call, params):
    result = call("estimate_cost", params)

    assert result.status == 400
    assert next(iter(params)) in result.body["errors"]


def test_estimate_nan_is_400(call):
    assert call("estimate_cost", body='{"params": {"epochs": NaN}}').status == 400


def test_estimate_other_org_ids_are_404(call, other_org):
    foreign_dataset = DatasetFactory(org=other_org)
    foreign_job = TrainingJobFactory(org=other_org)

    by_dataset = call(
        "estimate_cost", {"dataset_ids": [foreign_dataset.pk], "epochs": 1}
    )
    by_job = call("estimate_cost", {"job_id": foreign_job.pk})

    assert by_dataset.status == 404
    assert by_job.status == 404


def test_estimate_dataset_not_ready_is_409(call, org):
    dataset = DatasetFactory(org=org, status="processing")

    result = call("estimate_cost", {"dataset_ids": [dataset.pk], "epochs": 1})

    assert result.status == 409


# ---------------------------------------------------------------------------
# Stale jobs and the dataset deletion guard


def _stale_running_job(org, settings, **kwargs):
    old = timezone.now() - timedelta(
        seconds=settings.CENTEROS_TRAINING_STALE_SECONDS + 30
    )
    return TrainingJobFactory(
        org=org, status="running", started_at=old, heartbeat_at=old, **kwargs
    )


def test_stale_running_job_fails_on_status(call, org, settings):
    stale = _stale_running_job(org, settings)

    data = call("get_training_status", {"job_id": stale.pk}).data

    assert data["status"] == "failed"
    assert "the worker stopped reporting progress" in data["error"].lower()
    assert data["finished_at"] is not None


def test_stale_check_spares_fresh_jobs(call, org, settings):
    stale = _stale_running_job(org, settings)
    fresh = TrainingJobFactory(
        org=org,
        status="running",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )

    data = call("list_training_jobs").data

    statuses = {item["id"]: item["status"] for item in data}
    assert statuses == {stale.pk: "failed", fresh.pk: "running"}


def test_stale_command_fails_every_org(org, other_org, settings):
    mine = _stale_running_job(org, settings)
    theirs = _stale_running_job(other_org, settings)

    call_command("fail_stale_training_jobs", stdout=open("/dev/null", "w"))

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == "failed"
    assert theirs.status == "failed"


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_dataset_of_active_job_is_409(org, dataset, status):
    job = TrainingJobFactory(org=org, datasets=[dataset], status=status)

    with pytest.raises(Conflict) as raised:
        dataset_delete(dataset=dataset)

    assert job.pk in raised.value.detail
    assert status in raised.value.detail


@pytest.mark.parametrize("status", ["pending", "succeeded", "failed", "cancelled"])
def test_delete_dataset_of_inactive_job(org, dataset, status):
    TrainingJobFactory(org=org, datasets=[dataset], status=status)

    dataset_delete(dataset=dataset)

    assert not type(dataset).objects.filter(pk=dataset.pk).exists()


# ---------------------------------------------------------------------------
# Admin


def test_admin_changelist_and_cancel(client, org, dataset):
    from tests.factories import UserFactory

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    job = TrainingJobFactory(org=org, datasets=[dataset], status="queued")
    done = TrainingJobFactory(org=org, status="succeeded")

    listing = client.get(
        "/admin/training/trainingjob/", {"q": job.pk, "status": "queued"}
    )
    detail = client.get(f"/admin/training/trainingjob/{job.pk}/change/")
    response = client.post(
        "/admin/training/trainingjob/",
        {"action": "cancel_jobs", "_selected_action": [job.pk, done.pk]},
    )

    assert listing.status_code == 200
    assert job.pk in listing.content.decode()
    assert detail.status_code == 200
    assert response.status_code == 302
    job.refresh_from_db()
    done.refresh_from_db()
    assert job.status == "cancelled"
    assert done.status == "succeeded"
