"""The bootstrap, create_pat and seed_demo management commands."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotations.models import AnnotationTask
from datasets.models import Dataset
from fleet.models import Robot
from models_registry.models import ModelVersion
from orgs.models import Membership, Organization, PersonalAccessToken, User
from tests.conftest import ActionCaller
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_bootstrap_creates_admin_org_and_pat(client):
    output = run("bootstrap", "--pat", "--password", "s3cret-pass-word")
    token = output.split("shown once): ")[-1].strip()
    user = User.objects.get(username="admin")
    assert user.is_superuser
    assert Organization.objects.filter(slug="demo").exists()
    assert Membership.objects.get(user=user).role == "admin"
    assert ActionCaller(client, token)("whoami").data["role"] == "admin"


def test_bootstrap_is_idempotent():
    run("bootstrap", "--password", "s3cret-pass-word")
    output = run("bootstrap")
    assert "Reusing organisation demo" in output
    assert "Reusing admin user admin" in output
    assert User.objects.count() == 1
    assert Membership.objects.count() == 1
    assert PersonalAccessToken.objects.count() == 0


def test_create_pat_command_limits_scopes_to_role():
    run("bootstrap", "--password", "s3cret-pass-word")
    output = run(
        "create_pat",
        "--user",
        "admin",
        "--org",
        "demo",
        "--name",
        "ci",
        "--scopes",
        "datasets:read",
    )
    assert "frl_" in output
    assert PersonalAccessToken.objects.get(name="ci").scopes == ["datasets:read"]


def test_create_pat_command_unknown_user():
    with pytest.raises(CommandError, match="No user"):
        run("create_pat", "--user", "ghost", "--org", "demo", "--name", "x")


def test_seed_demo_fills_every_category():
    run("bootstrap", "--password", "s3cret-pass-word")
    output = run("seed_demo", "--epochs", "3")
    org = Organization.objects.get(slug="demo")
    assert "Demo data is ready" in output
    assert Dataset.objects.for_org(org).filter(status="ready").count() == 2
    assert TrainingJob.objects.for_org(org).filter(status="succeeded").count() == 1
    assert ModelVersion.objects.for_org(org).filter(status="validated").count() == 1
    assert Robot.objects.for_org(org).filter(estopped=True).count() == 1
    assert AnnotationTask.objects.for_org(org).filter(status="approved").count() == 1
    assert Membership.objects.filter(org=org).count() == 4
    assert "already has demo data" in run("seed_demo")


def test_seed_demo_queues_no_worker_task():
    from django_tasks_db.models import DBTaskResult

    run("bootstrap", "--password", "s3cret-pass-word")
    run("seed_demo", "--epochs", "2")
    assert DBTaskResult.objects.count() == 0
