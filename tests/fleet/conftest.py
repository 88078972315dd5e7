"""Fixtures of the fleet tests: robots with heartbeats and deployable models."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.factories import ModelVersionFactory, RobotFactory


def heartbeat_ago(seconds: float):
    """Return the time of a heartbeat received ``seconds`` ago."""
    return timezone.now() - timedelta(seconds=seconds)


def online_heartbeat():
    return heartbeat_ago(5)


def stale_heartbeat():
    return heartbeat_ago(settings.CENTEROS_HEARTBEAT_TIMEOUT + 120)


@pytest.fixture
def robot(org):
    return RobotFactory(
        org=org, robot_id="arm-01", last_heartbeat_at=online_heartbeat()
    )


@pytest.fixture
def validated_model(org):
    return ModelVersionFactory(
        org=org,
        name="pick-policy",
        version=3,
        status="validated",
        artifact_uri="artifacts/pick-policy/3/model.npz",
        artifact_sha256="ab" * 32,
    )


def count_queries(call, name: str, params: dict | None = None) -> int:
    """Return the number of database queries one action call makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        result = call(name, params or {})
    assert result.status == 200, result
    return len(captured)
