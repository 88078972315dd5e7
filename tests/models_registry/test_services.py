"""Services that other apps call: marking a version deployed."""

import pytest

from centeros.errors import Conflict, InvalidInput
from models_registry import services
from models_registry.models import ModelTransition
from tests.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_mark_deployed_moves_validated_version(org):
    model = ModelVersionFactory(org=org, status="validated")
    user = UserFactory()

    result = services.model_version_mark_deployed(model_version=model, user=user)

    assert result.status == "deployed"
    model.refresh_from_db()
    assert model.status == "deployed"
    transition = ModelTransition.objects.get(model_version=model)
    assert transition.from_status == "validated"
    assert transition.to_status == "deployed"
    assert transition.changed_by == user
    assert transition.reason == services.DEFAULT_DEPLOYED_REASON


def test_mark_deployed_is_idempotent(org):
    model = ModelVersionFactory(org=org, status="validated")

    services.model_version_mark_deployed(model_version=model, reason="Deployment 1")
    again = services.model_version_mark_deployed(model_version=model, reason="Later")

    assert again.status == "deployed"
    assert ModelTransition.objects.filter(model_version=model).count() == 1


def test_mark_deployed_reads_current_status(org):
    model = ModelVersionFactory(org=org, status="validated")
    stale = type(model).objects.get(pk=model.pk)
    services.model_version_mark_deployed(model_version=model)

    result = services.model_version_mark_deployed(model_version=stale)

    assert result.status == "deployed"
    assert ModelTransition.objects.filter(model_version=model).count() == 1


@pytest.mark.parametrize("status", ["draft", "retired"])
def test_mark_deployed_rejects_other_statuses(org, status):
    model = ModelVersionFactory(org=org, status=status)

    with pytest.raises(Conflict):
        services.model_version_mark_deployed(model_version=model)

    model.refresh_from_db()
    assert model.status == status
    assert not ModelTransition.objects.filter(model_version=model).exists()


def test_register_blank_name_is_rejected(org):
    with pytest.raises(InvalidInput):
        services.model_version_register(org=org, name="  ", artifact_uri="a")
