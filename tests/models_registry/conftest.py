"""Fixtures of the model registry tests: a succeeded job, versions, evaluations."""

import pytest

from tests.factories import (
    DatasetFactory,
    EvaluationFactory,
    ModelVersionFactory,
    TrainingJobFactory,
)

ARTIFACT_SHA256 = "3f" * 32


@pytest.fixture
def job_datasets(org):
    return [
        DatasetFactory(
            org=org,
            name="grasp-cube",
            sha256="a1" * 32,
            size_bytes=48112,
            episode_count=10,
            frame_count=1740,
        ),
        DatasetFactory(
            org=org,
            name="grasp-sphere",
            sha256="b2" * 32,
            size_bytes=90210,
            episode_count=25,
            frame_count=4100,
        ),
    ]


@pytest.fixture
def succeeded_job(org, job_datasets):
    return TrainingJobFactory(
        org=org,
        name="bc-grasp",
        model_type="bc_mlp",
        status="succeeded",
        hyperparameters={"epochs": 20, "learning_rate": 0.001},
        latest_metrics={"epoch": 20, "train_loss": 0.042},
        total_epochs=20,
        artifact_key=f"artifacts/{org.pk}/bc-grasp/model.npz",
        artifact_sha256=ARTIFACT_SHA256,
        artifact_size=123456,
        datasets=job_datasets,
    )


@pytest.fixture
def draft_model(org):
    return ModelVersionFactory(org=org, name="pick-policy", version=1)


@pytest.fixture
def other_model(other_org):
    return ModelVersionFactory(org=other_org, name="pick-policy", version=1)


@pytest.fixture
def pending_evaluation(draft_model):
    return EvaluationFactory(model_version=draft_model, name="sim-pick-50")


@pytest.fixture
def other_evaluation(other_model):
    return EvaluationFactory(model_version=other_model, name="sim-pick-50")
