"""Admin pages of model versions and evaluations."""

import pytest

from models_registry.models import ModelTransition
from tests.factories import EvaluationFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_with_history(org):
    model = ModelVersionFactory(org=org, status="validated")
    ModelTransition.objects.create(
        model_version=model, from_status="draft", to_status="validated", reason="ok"
    )
    EvaluationFactory(model_version=model, status="completed", passed=True)
    return model


def test_model_version_pages_render(admin_client, model_with_history):
    changelist = admin_client.get("/admin/models_registry/modelversion/")
    change = admin_client.get(
        f"/admin/models_registry/modelversion/{model_with_history.pk}/change/"
    )

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert b"draft" in change.content


def test_model_version_status_is_read_only(admin_client, model_with_history):
    url = f"/admin/models_registry/modelversion/{model_with_history.pk}/change/"

    response = admin_client.get(url)

    assert 'name="status"' not in response.content.decode()


def test_model_version_add_is_disabled(admin_client, org):
    response = admin_client.get("/admin/models_registry/modelversion/add/")

    assert response.status_code == 403


def test_evaluation_pages_render(admin_client, model_with_history):
    evaluation = model_with_history.evaluations.get()

    changelist = admin_client.get("/admin/models_registry/evaluation/?passed__exact=1")
    change = admin_client.get(
        f"/admin/models_registry/evaluation/{evaluation.pk}/change/"
    )

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert 'name="status"' not in change.content.decode()
