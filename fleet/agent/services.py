"""Services of the agent protocol: heartbeats, command delivery, acknowledgements.

Every function here locks the robot row first, like the operator services in
:mod:`fleet.services`, so a heartbeat, a delivery, an acknowledgement and an
emergency stop of the same robot never interleave. Commands move
queued → delivered (by :func:`robot_commands_deliver`) → succeeded or failed
(by :func:`robot_command_acknowledge`), or delivered → expired when the agent
does not acknowledge within the kind's timeout
(``CENTEROS_COMMAND_ACK_TIMEOUTS``).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from centeros.errors import Conflict, NotFound
from fleet.agent.notifications import robot_commands_changed
from fleet.choices import (
    UNRESOLVED_ALERT_STATUSES,
    AlertSeverity,
    AlertSource,
    AlertStatus,
    CommandKind,
    CommandStatus,
    DeploymentStatus,
    DeploymentStrategy,
    RobotMode,
)
from fleet.models import Alert, Deployment, Heartbeat, Robot, RobotCommand
from models_registry.choices import ModelStatus
from models_registry.services import is_own_artifact_key, model_version_mark_deployed

logger = logging.getLogger(__name__)

ESTOP_FAILED_ALERT_CODE = "emergency_stop_failed"


@dataclass(frozen=True)
class Fault:
    """A fault as the agent reports it in a heartbeat."""

    code: str
    severity: str
    message: str = ""


@dataclass(frozen=True)
class HeartbeatReport:
    """The validated content of one heartbeat."""

    battery: float | None = None
    pose: dict = field(default_factory=dict)
    software_version: str = ""
    model_version: str = ""
    idle: bool | None = None
    estopped: bool | None = None
    faults: list[Fault] = field(default_factory=list)


@dataclass(frozen=True)
class HeartbeatOutcome:
    """The changes one heartbeat made, returned to the agent and logged."""

    robot: Robot
    heartbeat: Heartbeat
    opened_alert_ids: list[int]
    updated_alert_ids: list[int]
    resolved_alert_ids: list[int]


def _ack_timeout(kind: str) -> int:
    return settings.CENTEROS_COMMAND_ACK_TIMEOUTS[kind]


# --- Heartbeats -------------------------------------------------------------


@transaction.atomic
def robot_heartbeat_record(
    *, robot_pk: int, report: HeartbeatReport, now: datetime | None = None
) -> HeartbeatOutcome:
    """Store a heartbeat and apply it to the robot and its alerts.

    Updates the robot's last heartbeat time, battery, pose, versions and idle
    flag; stores the heartbeat and prunes the robot's history to the newest
    ``CENTEROS_HEARTBEAT_HISTORY``. Each reported fault opens an alert, or
    updates the unresolved alert of the same code (one more occurrence, new
    ``last_seen_at``, severity and message). Unresolved fault alerts whose
    code is not reported any more are resolved. A critical fault puts a
    robot in normal mode into error mode; a heartbeat without one puts a
    robot in error mode back to normal. A robot that becomes idle has its
    channel woken, so that deployments held for idleness are delivered.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # A heartbeat lost in a database crash is replaced by the next one
        # seconds later, so its commit need not wait for the WAL flush.
        # Commands, acknowledgements and stops keep synchronous commits.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    robot = Robot.objects.select_for_update().get(pk=robot_pk)
    became_idle = report.idle is True and robot.idle is not True

    # Step 1: the robot's latest state.
    robot.last_heartbeat_at = now
    robot.battery = report.battery
    robot.pose = report.pose
    robot.software_version = report.software_version
    robot.reported_model_version = report.model_version
    robot.idle = report.idle
    has_critical = any(f.severity == AlertSeverity.CRITICAL for f in report.faults)
    if has_critical and robot.mode == RobotMode.NORMAL:
        robot.mode = RobotMode.ERROR
        logger.warning("Robot %s (pk %s) reported a critical fault", robot, robot.pk)
    elif not has_critical and robot.mode == RobotMode.ERROR:
        robot.mode = RobotMode.NORMAL
    robot.save(
        update_fields=[
            "last_heartbeat_at",
            "battery",
            "pose",
            "software_version",
            "reported_model_version",
            "idle",
            "mode",
            "updated_at",
        ]
    )

    # Step 2: the bounded history.
    heartbeat = Heartbeat.objects.create(
        org_id=robot.org_id,
        robot=robot,
        received_at=now,
        battery=report.battery,
        pose=report.pose,
        software_version=report.software_version,
        model_version=report.model_version,
        idle=report.idle,
        estopped=report.estopped,
        faults=[f.__dict__ for f in report.faults],
    )
    _heartbeats_prune(robot)

    # Step 3: alerts from faults.
    opened, updated, resolved = _alerts_apply_faults(robot, report.faults, now=now)

    if became_idle:
        robot_commands_changed(robot.pk)
    if opened or resolved:
        logger.info(
            "Heartbeat of robot %s (pk %s): opened alerts %s, resolved alerts %s",
            robot.robot_id,
            robot.pk,
            opened,
            resolved,
        )
    return HeartbeatOutcome(
        robot=robot,
        heartbeat=heartbeat,
        opened_alert_ids=opened,
        updated_alert_ids=updated,
        resolved_alert_ids=resolved,
    )


def _heartbeats_prune(robot: Robot) -> None:
    keep = settings.CENTEROS_HEARTBEAT_HISTORY
    # The id of the newest heartbeat beyond the kept ones; it and every
    # older one go.
    oldest_dropped = list(
        robot.heartbeats.order_by("-id").values_list("id", flat=True)[keep : keep + 1]
    )
    if oldest_dropped:
        robot.heartbeats.filter(id__lte=oldest_dropped[0]).delete()


def _alerts_apply_faults(
    robot: Robot, faults: list[Fault], *, now: datetime
) -> tuple[list[int], list[int], list[int]]:
    unresolved = {
        alert.code: alert
        for alert in robot.alerts.select_for_update().filter(
            status__in=UNRESOLVED_ALERT_STATUSES
        )
    }
    opened, updated = [], []
    for fault in faults:
        alert = unresolved.get(fault.code)
        if alert is None:
            alert = Alert.objects.create(
                org_id=robot.org_id,
                robot=robot,
                code=fault.code,
                source=AlertSource.FAULT,
                severity=fault.severity,
                message=fault.message,
            )
            opened.append(alert.pk)
            continue
        Alert.objects.filter(pk=alert.pk).update(
            occurrences=F("occurrences") + 1,
            last_seen_at=now,
            severity=fault.severity,
            message=fault.message,
        )
        updated.append(alert.pk)

    reported = {fault.code for fault in faults}
    cleared = [
        alert.pk
        for code, alert in unresolved.items()
        if code not in reported and alert.source == AlertSource.FAULT
    ]
    if cleared:
        Alert.objects.filter(pk__in=cleared).update(
            status=AlertStatus.RESOLVED, resolved_at=now
        )
    return opened, updated, cleared


# --- Delivery ---------------------------------------------------------------


def _held_back(command: RobotCommand, robot: Robot) -> bool:
    """Return True for a deploy command that waits for the robot to be idle."""
    return (
        command.kind == CommandKind.DEPLOY
        and command.payload.get("strategy") == DeploymentStrategy.ON_IDLE
        and robot.idle is not True
    )


def robot_commands_deliver(*, robot_pk: int, now: datetime | None = None) -> list:
    """Mark the robot's deliverable queued commands delivered and return them.

    Returns the commands in delivery order (highest priority first, then
    oldest) as protocol dicts (:func:`command_wire`), or an empty list. Each
    delivered command gets its acknowledgement deadline ``expires_at``; each
    delivered deploy command moves its pending deployment to in progress. A
    deploy command with strategy ``on_idle`` stays queued until the robot's
    latest heartbeat reported it idle. Overdue delivered commands of the
    robot are expired first.
    """
    # Fast path without locks: most wake-ups and polls find nothing queued.
    if not RobotCommand.objects.filter(
        robot_id=robot_pk, status=CommandStatus.QUEUED
    ).exists():
        return []

    now = now or timezone.now()
    with transaction.atomic():
        robot = Robot.objects.select_for_update().get(pk=robot_pk)
        robot_commands_expire(robot=robot, now=now)
        queued = list(
            robot.commands.select_for_update()
            .filter(status=CommandStatus.QUEUED)
            .order_by("-priority", "created_at", "id")
        )
        deliverable = [c for c in queued if not _held_back(c, robot)]
        for command in deliverable:
            command.status = CommandStatus.DELIVERED
            command.delivered_at = now
            command.expires_at = now + timedelta(seconds=_ack_timeout(command.kind))
            command.save(update_fields=["status", "delivered_at", "expires_at"])
            if command.kind == CommandKind.DEPLOY:
                _deployments_start(command)

    if deliverable:
        logger.info(
            "Delivered commands %s to robot %s (pk %s)",
            [(c.pk, c.kind) for c in deliverable],
            robot.robot_id,
            robot.pk,
        )
    return [command_wire(command) for command in deliverable]


def _deployments_start(command: RobotCommand) -> None:
    for deployment in Deployment.objects.select_for_update().filter(
        command=command, status=DeploymentStatus.PENDING
    ):
        deployment.transition_to(DeploymentStatus.IN_PROGRESS)
        deployment.save(update_fields=["status", "started_at"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def command_wire(command: RobotCommand) -> dict:
    """Return a delivered command as the channel sends it to the agent.

    A deploy command's payload gains ``artifact_url``, a download URL valid
    for ``CENTEROS_ARTIFACT_URL_TTL`` seconds, and ``artifact_url_expires_at``.
    The URL is made at delivery and never stored, because it expires.
    """
    payload = dict(command.payload)
    if command.kind == CommandKind.DEPLOY:
        payload.update(
            artifact_download(payload.get("artifact_uri", ""), org_id=command.org_id)
        )
    return {
        "id": command.pk,
        "kind": command.kind,
        "priority": command.priority,
        "payload": payload,
        "created_at": _iso(command.created_at),
        "delivered_at": _iso(command.delivered_at),
        "expires_at": _iso(command.expires_at),
    }


def artifact_download(artifact_uri: str, *, org_id: int) -> dict:
    """Return ``artifact_url`` and ``artifact_url_expires_at`` for an artifact.

    A URI with a scheme (``https://``, ``s3://``, ``gs://``) names a location
    outside the platform and is passed through as it is, with no expiry: the
    robot fetches it with its own credentials. Anything else is a storage key
    and is signed only when it lies under ``artifacts/<org_id>/``, so a model
    version can never be used to sign another organisation's files.
    """
    if "://" in artifact_uri:
        return {"artifact_url": artifact_uri, "artifact_url_expires_at": None}
    if not is_own_artifact_key(artifact_uri, org_id=org_id):
        logger.warning(
            "Not signing an artifact key outside artifacts/%s/ for a deploy command",
            org_id,
        )
        return {"artifact_url": None, "artifact_url_expires_at": None}

    from datasets.storage import get_upload_backend

    ttl = settings.CENTEROS_ARTIFACT_URL_TTL
    url = get_upload_backend().signed_download_url(artifact_uri, expires_in=ttl)
    expires_at = datetime.fromtimestamp(int(time.time()) + ttl, tz=UTC)
    return {"artifact_url": url, "artifact_url_expires_at": expires_at.isoformat()}


# --- Acknowledgements -------------------------------------------------------


def robot_command_acknowledge(
    *,
    robot_pk: int,
    command_id: int,
    succeeded: bool,
    message: str = "",
    now: datetime | None = None,
) -> RobotCommand:
    """Record the agent's result for a delivered command and apply it.

    A succeeded deploy finishes its deployment as succeeded, sets the robot's
    current model version and promotes a validated version to deployed. A
    failed deploy fails the deployment with ``message``. A succeeded release
    lifts the robot's emergency stop; a failed emergency stop opens a
    critical alert. Raises NotFound for a command of another robot (or none)
    and Conflict when the command was already acknowledged, is not delivered
    yet, was cancelled, or expired (an overdue command is expired first and
    that change is kept).
    """
    now = now or timezone.now()

    # The expiry commits on its own, so that a late acknowledgement still
    # leaves the command expired when it is rejected below.
    with transaction.atomic():
        robot = Robot.objects.select_for_update().get(pk=robot_pk)
        robot_commands_expire(robot=robot, now=now)

    with transaction.atomic():
        robot = Robot.objects.select_for_update().get(pk=robot_pk)
        command = robot.commands.select_for_update().filter(pk=command_id).first()
        if command is None:
            raise NotFound(
                f"Command {command_id} is not a command of this robot.",
                code="not_found",
            )
        _check_acknowledgeable(command)

        command.status = CommandStatus.SUCCEEDED if succeeded else CommandStatus.FAILED
        command.acked_at = now
        command.result_message = message
        command.save(update_fields=["status", "acked_at", "result_message"])

        if command.kind == CommandKind.DEPLOY:
            _deploy_finish(robot, command, succeeded=succeeded, message=message)
        elif command.kind == CommandKind.RELEASE_EMERGENCY_STOP and succeeded:
            _estop_lift(robot, command)
        elif command.kind == CommandKind.EMERGENCY_STOP and not succeeded:
            _estop_failed_alert(robot, command, message=message, now=now)

    logger.info(
        "Robot %s (pk %s) acknowledged command %s (%s) as %s",
        robot.robot_id,
        robot.pk,
        command.pk,
        command.kind,
        command.status,
    )
    return command


def _check_acknowledgeable(command: RobotCommand) -> None:
    if command.status == CommandStatus.DELIVERED:
        return
    reasons = {
        CommandStatus.SUCCEEDED: ("already_acknowledged", "was already acknowledged"),
        CommandStatus.FAILED: ("already_acknowledged", "was already acknowledged"),
        CommandStatus.QUEUED: ("not_delivered", "has not been delivered yet"),
        CommandStatus.EXPIRED: (
            "command_expired",
            "expired because it was not acknowledged in time",
        ),
        CommandStatus.CANCELLED: ("command_cancelled", "was cancelled"),
    }
    code, reason = reasons[CommandStatus(command.status)]
    raise Conflict(
        f"Command {command.pk} ({command.kind}) {reason}; it cannot be "
        "acknowledged now.",
        code=code,
    )


def _deploy_finish(
    robot: Robot, command: RobotCommand, *, succeeded: bool, message: str
) -> None:
    deployment = (
        Deployment.objects.select_for_update()
        .select_related("model_version")
        .filter(command=command, status=DeploymentStatus.IN_PROGRESS)
        .first()
    )
    if deployment is None:
        logger.warning(
            "Deploy command %s of robot %s has no deployment in progress",
            command.pk,
            robot.robot_id,
        )
        return

    if not succeeded:
        deployment.transition_to(DeploymentStatus.FAILED)
        deployment.error = message or "The robot reported the deployment failed."
        deployment.save(update_fields=["status", "finished_at", "error"])
        return

    deployment.transition_to(DeploymentStatus.SUCCEEDED)
    deployment.save(update_fields=["status", "finished_at"])
    model_version = deployment.model_version
    robot.current_model_version = model_version
    robot.save(update_fields=["current_model_version", "updated_at"])
    if model_version.status == ModelStatus.VALIDATED:
        model_version_mark_deployed(
            model_version=model_version,
            reason=f"Deployment {deployment.pk} to robot {robot.robot_id} succeeded.",
        )


def _estop_lift(robot: Robot, command: RobotCommand) -> None:
    robot.estopped = False
    robot.estopped_at = None
    robot.estop_reason = ""
    robot.save(update_fields=["estopped", "estopped_at", "estop_reason", "updated_at"])
    logger.warning(
        "Emergency stop of robot %s (pk %s) released by command %s",
        robot.robot_id,
        robot.pk,
        command.pk,
    )


def _estop_failed_alert(
    robot: Robot, command: RobotCommand, *, message: str, now: datetime
) -> None:
    text = f"The robot failed to carry out emergency stop command {command.pk}: "
    text += message or "no reason given."
    alert = (
        robot.alerts.select_for_update()
        .filter(code=ESTOP_FAILED_ALERT_CODE, status__in=UNRESOLVED_ALERT_STATUSES)
        .first()
    )
    if alert is None:
        Alert.objects.create(
            org_id=robot.org_id,
            robot=robot,
            code=ESTOP_FAILED_ALERT_CODE,
            source=AlertSource.SERVER,
            severity=AlertSeverity.CRITICAL,
            message=text,
        )
    else:
        Alert.objects.filter(pk=alert.pk).update(
            occurrences=F("occurrences") + 1, last_seen_at=now, message=text
        )
    logger.error("Robot %s: %s", robot.robot_id, text)


# --- Expiry -----------------------------------------------------------------


@transaction.atomic
def robot_commands_expire(
    *, now: datetime | None = None, robot: Robot | None = None
) -> list[RobotCommand]:
    """Mark delivered commands past their ``expires_at`` expired.

    Limited to ``robot`` when given, else across all organisations (for the
    ``expire_robot_commands`` management command). The deployment of an
    expired deploy command fails. Returns the expired commands.
    """
    now = now or timezone.now()
    overdue = RobotCommand.objects.select_for_update().filter(
        status=CommandStatus.DELIVERED, expires_at__lt=now
    )
    if robot is not None:
        overdue = overdue.filter(robot=robot)
    expired = list(overdue)

    for command in expired:
        command.status = CommandStatus.EXPIRED
        command.result_message = (
            f"Not acknowledged within {_ack_timeout(command.kind)} s of delivery."
        )
        command.save(update_fields=["status", "result_message"])
    deploy_ids = [c.pk for c in expired if c.kind == CommandKind.DEPLOY]
    deployments = Deployment.objects.select_for_update().filter(
        command__in=deploy_ids, status=DeploymentStatus.IN_PROGRESS
    )
    for deployment in deployments if deploy_ids else []:
        deployment.transition_to(DeploymentStatus.FAILED)
        deployment.error = "The robot did not acknowledge the deploy command in time."
        deployment.save(update_fields=["status", "finished_at", "error"])

    if expired:
        logger.warning(
            "Expired unacknowledged commands %s",
            [(c.pk, c.kind, c.robot_id) for c in expired],
        )
    return expired
