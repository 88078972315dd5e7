"""Admin operations: each runs the API action's service with its rules and audit."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from centeros.models import AuditLogEntry
from centeros.scopes import Role
from fleet.models import Deployment, RobotCommand
from models_registry.models import ModelTransition
from orgs.models import PersonalAccessToken
from tests.factories import (
    AlertFactory,
    AnnotationTaskFactory,
    MembershipFactory,
    ModelVersionFactory,
    RobotFactory,
    TrainingJobFactory,
)

pytestmark = pytest.mark.django_db


def run_action(client, page, action, objects, **fields):
    """POST an admin action for ``objects`` to the changelist of ``page``."""
    data = {"action": action, "_selected_action": [str(obj.pk) for obj in objects]}
    data.update(fields)
    return client.post(reverse(f"admin:{page}_changelist"), data)


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def admin_entries(action):
    return AuditLogEntry.objects.filter(action=action, source="admin")


# ---------------------------------------------------------------------------
# Training


def test_launch_queues_pending_job(member_client, org, pending_job):
    client = member_client(org, Role.OPERATOR)

    response = run_action(client, "training_trainingjob", "launch_jobs", [pending_job])

    pending_job.refresh_from_db()
    entry = admin_entries("launch_training").get()
    assert response.status_code == 302
    assert pending_job.status == "queued"
    assert entry.status_code == 200
    assert entry.org == org
    assert entry.user == client.user
    assert entry.params == {"job_id": pending_job.pk}
    assert entry.token_kind == "session"


def test_second_launch_is_conflict_message(member_client, org, pending_job):
    client = member_client(org, Role.OPERATOR)
    run_action(client, "training_trainingjob", "launch_jobs", [pending_job])

    response = run_action(client, "training_trainingjob", "launch_jobs", [pending_job])

    statuses = list(
        admin_entries("launch_training")
        .order_by("id")
        .values_list("status_code", flat=True)
    )
    assert response.status_code == 302
    assert statuses == [200, 409]
    assert any(
        "only a pending job can be launched" in m for m in message_texts(response)
    )


def test_cancel_job(member_client, org, pending_job):
    client = member_client(org, Role.OPERATOR)

    run_action(client, "training_trainingjob", "cancel_jobs", [pending_job])

    pending_job.refresh_from_db()
    assert pending_job.status == "cancelled"
    assert admin_entries("cancel_training").get().status_code == 200


def test_viewer_has_no_launch_action(member_client, org, pending_job):
    client = member_client(org, Role.VIEWER)

    listing = client.get(reverse("admin:training_trainingjob_changelist"))
    page = client.get(
        reverse("admin:training_trainingjob_change", args=[pending_job.pk])
    )
    response = run_action(client, "training_trainingjob", "launch_jobs", [pending_job])

    pending_job.refresh_from_db()
    assert b"launch_jobs" not in listing.content
    assert b"tool-launch_jobs" not in page.content
    assert response.status_code == 200
    assert pending_job.status == "pending"
    assert not admin_entries("launch_training").exists()


def test_launch_in_viewer_org_is_403(client, org, other_org, pending_job, make_member):
    user = make_member(other_org, Role.OPERATOR)
    MembershipFactory(user=user, org=org, role=Role.VIEWER)
    client.force_login(user)

    response = run_action(client, "training_trainingjob", "launch_jobs", [pending_job])

    pending_job.refresh_from_db()
    entry = admin_entries("launch_training").get()
    assert pending_job.status == "pending"
    assert entry.status_code == 403
    assert any("training:write" in m for m in message_texts(response))


def test_job_page_shows_loss_curve(member_client, org, finished_job):
    client = member_client(org, Role.VIEWER)

    response = client.get(
        reverse("admin:training_trainingjob_change", args=[finished_job.pk])
    )

    content = response.content.decode()
    loss_line = content.split('class="series-loss"')[1].split("/>")[0]
    assert response.status_code == 200
    assert "<svg" in content
    assert 'class="series-val_loss"' in content
    assert loss_line.count(",") == len(finished_job.metrics)
    assert "cdn" not in content.lower()


# ---------------------------------------------------------------------------
# Fleet


def test_emergency_stop_confirmation_names_robots(member_client, org, fleet):
    client = member_client(org, Role.OPERATOR)

    page = run_action(client, "fleet_robot", "emergency_stop_robots", fleet)

    content = page.content.decode()
    assert page.status_code == 200
    assert "arm-01" in content
    assert "arm-02" in content
    assert "Stop 2 robot(s) now" in content
    assert not any(robot.estopped for robot in fleet)
    assert not admin_entries("emergency_stop").exists()


def test_emergency_stop_applies(member_client, org, fleet):
    client = member_client(org, Role.OPERATOR)

    response = run_action(
        client,
        "fleet_robot",
        "emergency_stop_robots",
        fleet,
        apply="yes",
        reason="person in cell",
    )

    for robot in fleet:
        robot.refresh_from_db()
        assert robot.estopped
        assert robot.estop_reason == "person in cell"
        assert robot.commands.filter(kind="emergency_stop").count() == 1
    entries = admin_entries("emergency_stop")
    assert response.status_code == 302
    assert entries.count() == 2
    assert {e.params["robot_id"] for e in entries} == {"arm-01", "arm-02"}
    assert all(e.status_code == 200 for e in entries)


def test_release_emergency_stop(member_client, org):
    robot = RobotFactory(org=org, robot_id="arm-09", estopped=True)
    client = member_client(org, Role.OPERATOR)

    missing_reason = run_action(
        client, "fleet_robot", "release_emergency_stop", [robot], apply="yes"
    )
    run_action(
        client,
        "fleet_robot",
        "release_emergency_stop",
        [robot],
        apply="yes",
        reason="cell inspected",
    )

    command = RobotCommand.objects.get(robot=robot, kind="release_emergency_stop")
    assert missing_reason.status_code == 200
    assert b"This field is required" in missing_reason.content
    assert command.payload == {"reason": "cell inspected"}
    assert admin_entries("release_emergency_stop").get().status_code == 200


def test_release_of_running_robot_is_conflict(member_client, org, fleet):
    client = member_client(org, Role.OPERATOR)

    response = run_action(
        client,
        "fleet_robot",
        "release_emergency_stop",
        [fleet[0]],
        apply="yes",
        reason="all clear",
    )

    assert response.status_code == 302
    assert admin_entries("release_emergency_stop").get().status_code == 409
    assert any("not under emergency stop" in m for m in message_texts(response))


@pytest.fixture
def deployable(org):
    return ModelVersionFactory(
        org=org, name="pick-policy", version=2, status="validated"
    )


def test_deploy_form_lists_org_versions(
    member_client, org, other_org, fleet, deployable
):
    ModelVersionFactory(org=other_org, name="foreign-policy", status="validated")
    ModelVersionFactory(org=org, name="draft-policy", status="draft")
    client = member_client(org, Role.OPERATOR)

    page = run_action(client, "fleet_robot", "deploy_to_robots", [fleet[0]])

    choices = list(page.context["form"].fields["model_version"].queryset)
    assert choices == [deployable]


def test_deploy_creates_deployments(member_client, org, fleet, deployable):
    client = member_client(org, Role.OPERATOR)

    run_action(
        client,
        "fleet_robot",
        "deploy_to_robots",
        fleet,
        apply="yes",
        model_version=deployable.pk,
        strategy="on_idle",
    )

    deployments = Deployment.objects.filter(model_version=deployable)
    assert deployments.count() == 2
    assert {d.strategy for d in deployments} == {"on_idle"}
    assert admin_entries("deploy_model").count() == 2


def test_deploy_to_stopped_robot_is_conflict(member_client, org, deployable):
    robot = RobotFactory(org=org, estopped=True)
    client = member_client(org, Role.OPERATOR)

    response = run_action(
        client,
        "fleet_robot",
        "deploy_to_robots",
        [robot],
        apply="yes",
        model_version=deployable.pk,
        strategy="immediate",
    )

    assert response.status_code == 302
    assert not Deployment.objects.exists()
    assert admin_entries("deploy_model").get().status_code == 409


def test_deploy_across_orgs_is_rejected(admin_client, org, other_org, deployable):
    robots = [RobotFactory(org=org), RobotFactory(org=other_org)]

    response = run_action(admin_client, "fleet_robot", "deploy_to_robots", robots)

    assert response.status_code == 302
    assert any("several organisations" in m for m in message_texts(response))


def test_alert_acknowledge_then_resolve(member_client, org, fleet):
    alert = AlertFactory(robot=fleet[0])
    client = member_client(org, Role.OPERATOR)

    early = run_action(client, "fleet_alert", "resolve_alerts", [alert])
    run_action(client, "fleet_alert", "acknowledge_alerts", [alert])
    run_action(client, "fleet_alert", "resolve_alerts", [alert])

    alert.refresh_from_db()
    statuses = list(
        admin_entries("resolve_alert")
        .order_by("id")
        .values_list("status_code", flat=True)
    )
    assert any("Acknowledge it first" in m for m in message_texts(early))
    assert alert.status == "resolved"
    assert alert.acknowledged_by == client.user
    assert statuses == [409, 200]


def test_robot_page_shows_history(member_client, org, fleet):
    from fleet.models import Heartbeat

    robot = fleet[0]
    Heartbeat.objects.create(
        org=org, robot=robot, battery=0.73, software_version="agent-2.4.1"
    )
    RobotCommand.objects.create(org=org, robot=robot, kind="deploy", priority=100)
    client = member_client(org, Role.VIEWER)

    response = client.get(reverse("admin:fleet_robot_change", args=[robot.pk]))

    content = response.content.decode()
    assert "agent-2.4.1" in content
    assert "0.73" in content
    assert 'id="robot-commands"' in content
    assert "tool-emergency_stop_robots" not in content


# ---------------------------------------------------------------------------
# Models


def test_promote_with_reason(member_client, org):
    version = ModelVersionFactory(org=org, status="draft")
    client = member_client(org, Role.ADMIN)

    page = run_action(
        client, "models_registry_modelversion", "promote_versions", [version]
    )
    run_action(
        client,
        "models_registry_modelversion",
        "promote_versions",
        [version],
        apply="yes",
        target_status="validated",
        reason="passed the sim suite",
    )

    version.refresh_from_db()
    transition = ModelTransition.objects.get(model_version=version)
    entry = admin_entries("promote_model").get()
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert version.status == "validated"
    assert transition.reason == "passed the sim suite"
    assert transition.changed_by == client.user
    assert entry.params["target_status"] == "validated"


def test_promote_skipping_a_stage_is_conflict(member_client, org):
    version = ModelVersionFactory(org=org, status="draft")
    client = member_client(org, Role.ADMIN)

    response = run_action(
        client,
        "models_registry_modelversion",
        "promote_versions",
        [version],
        apply="yes",
        target_status="deployed",
        reason="skip",
    )

    version.refresh_from_db()
    assert version.status == "draft"
    assert admin_entries("promote_model").get().status_code == 409
    assert any("allowed next: validated" in m for m in message_texts(response))


def test_operator_cannot_promote(member_client, org):
    version = ModelVersionFactory(org=org, status="draft")
    client = member_client(org, Role.OPERATOR)

    listing = client.get(reverse("admin:models_registry_modelversion_changelist"))
    run_action(
        client,
        "models_registry_modelversion",
        "promote_versions",
        [version],
        apply="yes",
        target_status="validated",
        reason="x",
    )

    version.refresh_from_db()
    assert b"promote_versions" not in listing.content
    assert version.status == "draft"


def test_model_page_shows_lineage(member_client, org, finished_job, ready_dataset):
    version = ModelVersionFactory(
        org=org, training_job=finished_job, status="validated"
    )
    Deployment.objects.create(
        org=org, robot=RobotFactory(org=org, robot_id="arm-77"), model_version=version
    )
    client = member_client(org, Role.VIEWER)

    response = client.get(
        reverse("admin:models_registry_modelversion_change", args=[version.pk])
    )

    content = response.content.decode()
    assert ready_dataset.sha256 in content
    assert "bc-finished" in content
    assert "arm-77" in content


def test_dataset_page_shows_inspection(member_client, org, ready_dataset):
    client = member_client(org, Role.ANNOTATOR)

    response = client.get(
        reverse("admin:datasets_dataset_change", args=[ready_dataset.pk])
    )

    content = response.content.decode()
    assert "obs/joint_pos" in content
    assert "robomimic" in content
    assert "1.5" in content


# ---------------------------------------------------------------------------
# Annotations


@pytest.fixture
def task_in_review(org, make_member):
    annotator = make_member(org, Role.ANNOTATOR)
    return AnnotationTaskFactory(org=org, status="in_review", assignee=annotator)


def test_reject_needs_comment(member_client, org, task_in_review):
    client = member_client(org, Role.OPERATOR)

    response = run_action(
        client,
        "annotations_annotationtask",
        "reject_tasks",
        [task_in_review],
        apply="yes",
    )

    task_in_review.refresh_from_db()
    assert task_in_review.status == "in_review"
    assert admin_entries("review_task").get().status_code == 400
    assert any("needs a comment" in m for m in message_texts(response))


def test_reject_with_comment(member_client, org, task_in_review):
    client = member_client(org, Role.ANNOTATOR)

    run_action(
        client,
        "annotations_annotationtask",
        "reject_tasks",
        [task_in_review],
        apply="yes",
        comment="frame 12 missed",
    )

    task_in_review.refresh_from_db()
    review = task_in_review.reviews.get()
    assert task_in_review.status == "rejected"
    assert review.comment == "frame 12 missed"
    assert review.reviewer == client.user


def test_approve_open_task_is_conflict(member_client, org):
    task = AnnotationTaskFactory(org=org, status="open")
    client = member_client(org, Role.OPERATOR)

    run_action(
        client, "annotations_annotationtask", "approve_tasks", [task], apply="yes"
    )

    task.refresh_from_db()
    assert task.status == "open"
    assert admin_entries("review_task").get().status_code == 409


# ---------------------------------------------------------------------------
# Personal access tokens


def test_pat_created_and_shown_once(member_client, org):
    client = member_client(org, Role.OPERATOR)

    response = client.post(
        reverse("admin:orgs_personalaccesstoken_add"),
        {"name": "ci", "org": org.pk, "scopes": ["fleet:read", "training:write"]},
    )

    token = response.context["token"]
    pat = PersonalAccessToken.objects.get(name="ci")
    listing = client.get(reverse("admin:orgs_personalaccesstoken_changelist"))
    assert response.status_code == 200
    assert token.startswith("frl_")
    assert token.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    assert pat.owner == client.user
    assert pat.scopes == ["fleet:read", "training:write"]
    assert token not in pat.token_hash
    assert token.encode() not in listing.content
    assert admin_entries("create_pat").get().status_code == 200


def test_pat_beyond_role_is_rejected(member_client, org):
    client = member_client(org, Role.OPERATOR)

    response = client.post(
        reverse("admin:orgs_personalaccesstoken_add"),
        {"name": "too-much", "org": org.pk, "scopes": ["orgs:write"]},
    )

    assert response.status_code == 200
    assert b"orgs:write" in response.content
    assert not PersonalAccessToken.objects.exists()
    assert admin_entries("create_pat").get().status_code == 403


def test_pat_org_choices_are_own_orgs(member_client, org, other_org):
    client = member_client(org, Role.VIEWER)

    response = client.post(
        reverse("admin:orgs_personalaccesstoken_add"),
        {"name": "sneaky", "org": other_org.pk, "scopes": ["fleet:read"]},
    )

    assert b"Select a valid choice" in response.content
    assert not PersonalAccessToken.objects.exists()


def test_pat_revoke_own_tokens_only(member_client, org, make_token):
    client = member_client(org, Role.VIEWER)
    client.post(
        reverse("admin:orgs_personalaccesstoken_add"),
        {"name": "mine", "org": org.pk, "scopes": ["fleet:read"]},
    )
    make_token(role="admin", org=org)
    mine = PersonalAccessToken.objects.get(name="mine")
    theirs = make_token.last

    listing = client.get(reverse("admin:orgs_personalaccesstoken_changelist"))
    run_action(client, "orgs_personalaccesstoken", "revoke_tokens", [mine, theirs])

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert listing.context["cl"].result_count == 1
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None
    assert admin_entries("revoke_pat").get().status_code == 200


# ---------------------------------------------------------------------------
# Dashboard and audit log


def test_dashboard_counts_are_scoped(member_client, org, other_org, fleet):
    RobotFactory(org=other_org, robot_id="far-arm", estopped=True)
    TrainingJobFactory(org=org, name="bc-running", status="running", progress=0.4)
    AlertFactory(robot=fleet[0], severity="critical")
    AnnotationTaskFactory(org=org, status="in_review")
    client = member_client(org, Role.OPERATOR)

    response = client.get(reverse("admin:index"))

    content = response.content.decode()
    panel = response.context["panels"][0]
    summary = panel["fleet"]["summary"]
    assert len(response.context["panels"]) == 1
    assert summary["robots"]["total"] == 2
    assert summary["robots"]["by_status"]["estopped"] == 0
    assert summary["stale_heartbeats"]["robot_ids"] == ["arm-02"]
    assert summary["alerts"]["open_by_severity"]["critical"] == 1
    assert panel["training"]["running"] == 1
    assert panel["annotations"]["metrics"]["status_distribution"]["in_review"] == 1
    assert "bc-running" in content
    assert "40%" in content
    assert "far-arm" not in content
    assert "Other Lab" not in content


def test_audit_log_is_scoped_and_read_only(member_client, org, other_org, fleet):
    AuditLogEntry.objects.create(action="emergency_stop", status_code=200, org=org)
    foreign = AuditLogEntry.objects.create(
        action="delete_dataset", status_code=200, org=other_org
    )
    client = member_client(org, Role.OPERATOR)

    listing = client.get(
        reverse("admin:centeros_auditlogentry_changelist"), {"action": "emergency_stop"}
    )
    entry = AuditLogEntry.objects.get(org=org)
    page = client.get(reverse("admin:centeros_auditlogentry_change", args=[entry.pk]))
    foreign_page = client.get(
        reverse("admin:centeros_auditlogentry_change", args=[foreign.pk])
    )

    assert listing.context["cl"].result_count == 1
    assert b"delete_dataset" not in listing.content
    assert b'name="_save"' not in page.content
    assert foreign_page.status_code == 302
