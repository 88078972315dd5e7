"""Organisation scoping of the admin: what each role may view and change.

The expected access comes from the role table in centeros.scopes, so these
tests follow that table rather than a second copy of it.
"""

import pytest
from django.urls import reverse

from centeros.scopes import ROLE_SCOPES, Role
from datasets.models import Dataset
from fleet.models import Robot
from tests.factories import (
    AnnotationTaskFactory,
    DatasetFactory,
    MembershipFactory,
    RobotFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = [Role.ADMIN, Role.OPERATOR, Role.ANNOTATOR, Role.VIEWER]

# (app label, model name, scope area) of every org-owned admin page.
PAGES = [
    ("datasets", "dataset", "datasets"),
    ("training", "trainingjob", "training"),
    ("models_registry", "modelversion", "models"),
    ("models_registry", "evaluation", "models"),
    ("fleet", "robot", "fleet"),
    ("fleet", "robotcommand", "fleet"),
    ("fleet", "deployment", "fleet"),
    ("fleet", "alert", "fleet"),
    ("fleet", "heartbeat", "fleet"),
    ("annotations", "annotationtask", "annotations"),
    ("annotations", "annotationreview", "annotations"),
    ("orgs", "organization", "orgs"),
    ("orgs", "membership", "orgs"),
    ("centeros", "auditlogentry", "stats"),
]


@pytest.mark.parametrize("role", ROLES)
def test_changelists_follow_role_scopes(member_client, org, role):
    client = member_client(org, role)

    for app_label, model_name, area in PAGES:
        response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        expected = 200 if f"{area}:read" in ROLE_SCOPES[role] else 403
        assert response.status_code == expected, (app_label, model_name, role)


@pytest.fixture
def editable_objects(org, fleet):
    return {
        "datasets": ("datasets", "dataset", DatasetFactory(org=org)),
        "fleet": ("fleet", "robot", fleet[0]),
        "annotations": (
            "annotations",
            "annotationtask",
            AnnotationTaskFactory(org=org),
        ),
        "orgs": ("orgs", "organization", org),
    }


@pytest.mark.parametrize("role", ROLES)
def test_change_pages_follow_role_scopes(member_client, org, role, editable_objects):
    client = member_client(org, role)

    for area, (app_label, model_name, obj) in editable_objects.items():
        url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])
        response = client.get(url)
        can_read = f"{area}:read" in ROLE_SCOPES[role]
        can_write = f"{area}:write" in ROLE_SCOPES[role]
        if not can_read:
            assert response.status_code == 403, (area, role)
            continue
        assert response.status_code == 200, (area, role)
        assert (b'name="_save"' in response.content) == can_write, (area, role)


def test_viewer_post_to_change_url_is_403(member_client, org, fleet):
    client = member_client(org, Role.VIEWER)
    robot = fleet[0]

    response = client.post(
        reverse("admin:fleet_robot_change", args=[robot.pk]),
        {"name": "renamed", "mode": "maintenance", "metadata": "{}"},
    )

    robot.refresh_from_db()
    assert response.status_code == 403
    assert robot.name == "Left arm"
    assert robot.mode == "normal"


def test_operator_changes_robot_mode(member_client, org, fleet):
    client = member_client(org, Role.OPERATOR)
    robot = fleet[0]

    response = client.post(
        reverse("admin:fleet_robot_change", args=[robot.pk]),
        {
            "name": "Left arm",
            "robot_type": "arm",
            "site": "lab-1",
            "metadata": "{}",
            "mode": "maintenance",
        },
    )

    robot.refresh_from_db()
    assert response.status_code == 302
    assert robot.mode == "maintenance"


def test_annotator_cannot_open_training_jobs(member_client, org, pending_job):
    client = member_client(org, Role.ANNOTATOR)

    listing = client.get(reverse("admin:training_trainingjob_changelist"))
    page = client.get(
        reverse("admin:training_trainingjob_change", args=[pending_job.pk])
    )
    index = client.get(reverse("admin:index"))

    assert listing.status_code == 403
    assert page.status_code == 403
    assert b"/admin/training/" not in index.content


def test_annotator_reads_datasets_only(member_client, org, ready_dataset):
    client = member_client(org, Role.ANNOTATOR)
    url = reverse("admin:datasets_dataset_change", args=[ready_dataset.pk])

    page = client.get(url)
    post = client.post(url, {"name": "renamed", "description": "", "tags": "[]"})

    ready_dataset.refresh_from_db()
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert post.status_code == 403
    assert ready_dataset.name == "pick-cubes"


def test_other_org_objects_are_invisible(member_client, org, other_org_objects):
    client = member_client(org, Role.ADMIN)
    urls = {
        "dataset": "admin:datasets_dataset",
        "robot": "admin:fleet_robot",
        "job": "admin:training_trainingjob",
        "model": "admin:models_registry_modelversion",
        "alert": "admin:fleet_alert",
        "command": "admin:fleet_robotcommand",
        "task": "admin:annotations_annotationtask",
    }

    for key, prefix in urls.items():
        obj = other_org_objects[key]
        listing = client.get(reverse(f"{prefix}_changelist"))
        page = client.get(reverse(f"{prefix}_change", args=[obj.pk]))
        assert listing.status_code == 200, key
        assert listing.context["cl"].result_count == 0, key
        assert page.status_code == 302, key
        assert page.url == reverse("admin:index"), key


def test_org_filter_lists_only_own_orgs(member_client, org, other_org, fleet):
    RobotFactory(org=other_org, robot_id="far-arm")
    client = member_client(org, Role.OPERATOR)

    response = client.get(reverse("admin:fleet_robot_changelist"))

    assert b"Pick Lab" in response.content
    assert b"Other Lab" not in response.content
    assert b"far-arm" not in response.content


def test_member_of_two_orgs_sees_both(client, org, other_org, fleet):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, org=org, role=Role.VIEWER)
    MembershipFactory(user=user, org=other_org, role=Role.OPERATOR)
    far = RobotFactory(org=other_org, robot_id="far-arm")
    client.force_login(user)

    listing = client.get(reverse("admin:fleet_robot_changelist"))
    near_page = client.get(reverse("admin:fleet_robot_change", args=[fleet[0].pk]))
    far_page = client.get(reverse("admin:fleet_robot_change", args=[far.pk]))

    assert listing.context["cl"].result_count == 3
    assert b'name="_save"' not in near_page.content
    assert b'name="_save"' in far_page.content


def test_superuser_sees_every_org(admin_client, org, fleet, other_org_objects):
    response = admin_client.get(reverse("admin:fleet_robot_changelist"))

    assert response.context["cl"].result_count == 3


def test_form_choices_limited_to_object_org(member_client, org, other_org):
    own = DatasetFactory(org=org, name="own-dataset")
    DatasetFactory(org=other_org, name="foreign-dataset")
    task = AnnotationTaskFactory(org=org)
    client = member_client(org, Role.OPERATOR)

    response = client.get(
        reverse("admin:annotations_annotationtask_change", args=[task.pk])
    )

    choices = response.context["adminform"].form.fields["dataset"].queryset
    assert list(choices) == [own]


def test_foreign_dataset_rejected_on_save(member_client, org, other_org):
    foreign = DatasetFactory(org=other_org)
    task = AnnotationTaskFactory(org=org)
    client = member_client(org, Role.OPERATOR)

    response = client.post(
        reverse("admin:annotations_annotationtask_change", args=[task.pk]),
        {
            "title": "Label grasps",
            "description": "",
            "dataset": foreign.pk,
            "data_type": "episode",
            "priority": "high",
            "labels": "{}",
            "reviews-TOTAL_FORMS": "0",
            "reviews-INITIAL_FORMS": "0",
        },
    )

    task.refresh_from_db()
    assert response.status_code == 200
    assert task.dataset_id is None


def test_staff_without_membership_sees_no_models(client, org, fleet):
    client.force_login(UserFactory(is_staff=True))

    index = client.get(reverse("admin:index"))
    listing = client.get(reverse("admin:fleet_robot_changelist"))

    assert index.status_code == 200
    assert b"arm-01" not in index.content
    assert listing.status_code == 403


def test_state_fields_are_read_only_for_admins(member_client, org, pending_job, fleet):
    client = member_client(org, Role.ADMIN)
    pages = [
        (reverse("admin:training_trainingjob_change", args=[pending_job.pk]), "status"),
        (reverse("admin:fleet_robot_change", args=[fleet[0].pk]), "estopped"),
    ]

    for url, field in pages:
        form = client.get(url).context["adminform"].form
        assert field not in form.fields, url


def test_dataset_delete_needs_write(member_client, org, ready_dataset):
    viewer = member_client(org, Role.VIEWER)
    url = reverse("admin:datasets_dataset_delete", args=[ready_dataset.pk])

    response = viewer.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert Dataset.objects.filter(pk=ready_dataset.pk).exists()


def test_robots_cannot_be_added_or_deleted(member_client, org, fleet):
    client = member_client(org, Role.ADMIN)

    adding = client.get(reverse("admin:fleet_robot_add"))
    deleting = client.post(
        reverse("admin:fleet_robot_delete", args=[fleet[0].pk]), {"post": "yes"}
    )

    assert adding.status_code == 403
    assert deleting.status_code == 403
    assert Robot.objects.filter(pk=fleet[0].pk).exists()


def test_refresh_tokens_are_not_in_admin():
    from django.contrib import admin
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    assert not admin.site.is_registered(OutstandingToken)
