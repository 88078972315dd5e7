"""Fixtures of the admin tests: staff members with a role, and a small org.

Members are staff users without any Django model permission, so every page
they reach is granted by their role's scopes alone.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    AlertFactory,
    AnnotationTaskFactory,
    DatasetFactory,
    MembershipFactory,
    ModelVersionFactory,
    RobotCommandFactory,
    RobotFactory,
    TrainingJobFactory,
    UserFactory,
)

PASSWORD = "correct-horse-42"


@pytest.fixture
def make_member(db):
    """Create a staff user with ``role`` in ``org`` and return the user."""

    def make(org, role, **fields):
        user = UserFactory(is_staff=True, **fields)
        MembershipFactory(user=user, org=org, role=role)
        return user

    return make


@pytest.fixture
def member_client(client, make_member):
    """Return a test client logged in as a new member with ``role`` in ``org``."""

    def login(org, role):
        user = make_member(org, role)
        client.force_login(user)
        client.user = user
        return client

    return login


@pytest.fixture
def fleet(org):
    """Two robots of ``org``: one reporting, one silent past the timeout."""
    now = timezone.now()
    online = RobotFactory(
        org=org, robot_id="arm-01", name="Left arm", last_heartbeat_at=now
    )
    stale = RobotFactory(
        org=org,
        robot_id="arm-02",
        name="Right arm",
        last_heartbeat_at=now - timedelta(hours=1),
    )
    return online, stale


@pytest.fixture
def ready_dataset(org):
    return DatasetFactory(
        org=org,
        name="pick-cubes",
        sha256="5e" * 32,
        metadata={
            "format": "hdf5",
            "layout": "robomimic",
            "episodes": 2,
            "frames": 30,
            "episode_frames": [12, 18],
            "duration_s": 1.5,
            "fps": 20.0,
            "action_dim": 7,
            "observation_dim": 10,
            "keys": [
                {"name": "actions", "shape": [7], "dtype": "float64"},
                {"name": "obs/joint_pos", "shape": [10], "dtype": "float32"},
            ],
            "topics": [],
            "robot": "panda",
            "declared": {},
            "extra": {},
        },
    )


@pytest.fixture
def pending_job(org, ready_dataset):
    return TrainingJobFactory(org=org, name="bc-pick", datasets=[ready_dataset])


@pytest.fixture
def finished_job(org, ready_dataset):
    metrics = [
        {"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.2 / epoch}
        for epoch in range(1, 9)
    ]
    return TrainingJobFactory(
        org=org,
        name="bc-finished",
        status="succeeded",
        progress=1.0,
        current_epoch=8,
        total_epochs=8,
        metrics=metrics,
        datasets=[ready_dataset],
    )


@pytest.fixture
def other_org_objects(other_org):
    """One object of every kind in ``other_org``."""
    dataset = DatasetFactory(org=other_org, name="secret-dataset")
    robot = RobotFactory(org=other_org, robot_id="secret-arm")
    return {
        "dataset": dataset,
        "robot": robot,
        "job": TrainingJobFactory(org=other_org, name="secret-job", datasets=[dataset]),
        "model": ModelVersionFactory(org=other_org, name="secret-model"),
        "alert": AlertFactory(robot=robot, code="secret_fault"),
        "command": RobotCommandFactory(robot=robot),
        "task": AnnotationTaskFactory(org=other_org, title="secret-task"),
    }
