"""Write-side rules of the fleet: robot registration, deployments, emergency stops.

Every service that changes what a robot may do locks the robot row first with
``select_for_update``. An emergency stop and a deployment to the same robot
are therefore serialised: whichever commits second reads the result of the
first, so a deployment either commits before the stop (and the stop cancels
it) or finds the robot stopped and is rejected.
"""

import json
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from centeros import credentials
from centeros.errors import Conflict, InvalidInput
from fleet.agent.notifications import robot_commands_changed
from fleet.choices import (
    ACTIVE_DEPLOYMENT_STATUSES,
    COMMAND_PRIORITY,
    UNFINISHED_COMMAND_STATUSES,
    AlertStatus,
    CommandKind,
    CommandStatus,
    DeploymentStatus,
    DeploymentStrategy,
)
from fleet.models import Alert, Deployment, Robot, RobotCommand
from fleet.selectors import robot_latest_stop_command
from models_registry.choices import ModelStatus
from models_registry.models import ModelVersion
from orgs.authentication import ROBOT_TOKEN_PREFIX
from orgs.models import Organization, User

logger = logging.getLogger(__name__)

# Namespaces robot token hashes, so a robot token hash never equals the hash
# of a PAT with the same text.
ROBOT_TOKEN_SALT = "centeros.fleet.robot_token"

ROBOT_ID_MAX_LENGTH = 100
MAX_METADATA_BYTES = 64 * 1024
MAX_ESTOP_REASON_LENGTH = 500

DEPLOYABLE_MODEL_STATUSES = (ModelStatus.VALIDATED, ModelStatus.DEPLOYED)

# Reused stop commands: a stop that is still on its way or that the robot
# carried out. A failed or expired one is replaced by a new command.
_LIVE_STOP_COMMAND_STATUSES = (*UNFINISHED_COMMAND_STATUSES, CommandStatus.SUCCEEDED)


@dataclass(frozen=True)
class DeploymentResult:
    """A new deployment, its deploy command, and the ones it replaced."""

    deployment: Deployment
    command: RobotCommand
    superseded: list[Deployment] = field(default_factory=list)


@dataclass(frozen=True)
class EmergencyStopResult:
    """The stopped robot, its stop command and the deployments it cancelled."""

    robot: Robot
    command: RobotCommand
    already_estopped: bool
    cancelled_deployments: list[Deployment] = field(default_factory=list)


def robot_id_check(robot_id: str) -> None:
    """Raise InvalidInput unless ``robot_id`` is a slug of at most 100 characters."""
    try:
        validate_slug(robot_id)
    except ValidationError:
        raise InvalidInput(
            f"robot_id {robot_id[:120]!r} is not a slug. Use letters, digits, "
            "hyphens and underscores only, such as 'arm-01'.",
            errors={"robot_id": ["Must be a slug such as 'arm-01'."]},
        )
    if len(robot_id) > ROBOT_ID_MAX_LENGTH:
        raise InvalidInput(
            f"robot_id is {len(robot_id)} characters long; the maximum is "
            f"{ROBOT_ID_MAX_LENGTH}.",
            errors={"robot_id": [f"At most {ROBOT_ID_MAX_LENGTH} characters."]},
        )


def _metadata_check(metadata: dict) -> None:
    size = len(json.dumps(metadata, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(
            f"metadata is {size} bytes as JSON; the maximum is {MAX_METADATA_BYTES}. "
            "Keep large descriptions outside CenterOS and store a link instead.",
            errors={"metadata": [f"At most {MAX_METADATA_BYTES} bytes as JSON."]},
        )


def _duplicate_robot(robot_id: str) -> Conflict:
    return Conflict(
        f"A robot with robot_id {robot_id!r} is already registered in this "
        "organisation; choose another robot_id.",
        code="robot_exists",
    )


@transaction.atomic
def robot_register(
    *,
    org: Organization,
    robot_id: str,
    name: str = "",
    robot_type: str = "",
    site: str = "",
    metadata: dict | None = None,
    created_by: User | None = None,
) -> tuple[Robot, str]:
    """Register a robot in ``org`` and return it with its robot token.

    The token (``frr_`` and 43 random characters) exists only in the return
    value: the row stores an HMAC of it under ``ROBOT_TOKEN_SALT`` and a short
    display prefix. Raises InvalidInput for a ``robot_id`` that is not a slug
    or metadata over 64 KiB, and Conflict when ``org`` already has a robot
    with this ``robot_id``, also when two registrations race.
    """
    robot_id_check(robot_id)
    metadata = metadata or {}
    _metadata_check(metadata)

    if Robot.objects.for_org(org).filter(robot_id=robot_id).exists():
        raise _duplicate_robot(robot_id)

    token = credentials.new_token(ROBOT_TOKEN_PREFIX)
    try:
        # The savepoint keeps the caller's transaction usable when a
        # concurrent registration wins the unique constraint.
        with transaction.atomic():
            robot = Robot.objects.create(
                org=org,
                robot_id=robot_id,
                name=name,
                robot_type=robot_type,
                site=site,
                metadata=metadata,
                token_prefix=credentials.display_prefix(token),
                token_hash=credentials.token_hash(token, salt=ROBOT_TOKEN_SALT),
                created_by=created_by,
            )
    except IntegrityError:
        raise _duplicate_robot(robot_id)

    logger.info(
        "Registered robot %s (pk %s) in org %s", robot.robot_id, robot.pk, org.pk
    )
    return robot, token


def robot_authenticate_token(token: str) -> Robot | None:
    """Return the robot that owns a presented robot token, or None.

    Runs one indexed query over the token's hashes under the current and the
    fallback secret keys; a malformed token returns None without a query. The
    lookup is not limited to an organisation because the token itself names
    the robot, and through it the organisation.
    """
    if not credentials.looks_like(token, ROBOT_TOKEN_PREFIX):
        return None
    hashes = credentials.candidate_hashes(token, salt=ROBOT_TOKEN_SALT)
    return Robot.objects.select_related("org").filter(token_hash__in=hashes).first()


def _lock_robot(*, org: Organization, robot_id: str) -> Robot:
    robot_id_check(robot_id)
    return Robot.objects.select_for_update().get_for_org(
        org, label="robot", robot_id=robot_id
    )


def _deployable_model_version(
    *, org: Organization, model_version_id: int
) -> ModelVersion:
    # Locked so that retiring the version cannot slip in between this check
    # and the new deployment.
    model_version = ModelVersion.objects.select_for_update().get_for_org(
        org, label="model version", pk=model_version_id
    )
    label = (
        f"Model {model_version.name} v{model_version.version} (id {model_version.pk})"
    )

    if model_version.status not in DEPLOYABLE_MODEL_STATUSES:
        if model_version.status == ModelStatus.DRAFT:
            fix = "Promote it to validated first."
        else:
            fix = "Deploy a validated or deployed version instead."
        raise Conflict(
            f"{label} is {model_version.status}; only validated or deployed "
            f"versions can be deployed. {fix}",
            code="model_not_deployable",
        )
    if not model_version.artifact_uri:
        raise Conflict(
            f"{label} has no artifact_uri, so a robot would have nothing to "
            "download. Register a version with its artifact.",
            code="model_has_no_artifact",
        )
    return model_version


def _cancel_deployments(deployments: list[Deployment], *, reason: str) -> None:
    """Cancel the given deployments and their unfinished deploy commands."""
    for deployment in deployments:
        deployment.transition_to(DeploymentStatus.CANCELLED)
        deployment.error = reason
        deployment.save(update_fields=["status", "finished_at", "error"])

    command_ids = [d.command_id for d in deployments if d.command_id]
    RobotCommand.objects.filter(
        pk__in=command_ids, status__in=UNFINISHED_COMMAND_STATUSES
    ).update(status=CommandStatus.CANCELLED, result_message=reason)


def _deploy_payload(deployment: Deployment, model_version: ModelVersion) -> dict:
    return {
        "deployment_id": deployment.pk,
        "model_version_id": model_version.pk,
        "name": model_version.name,
        "version": model_version.version,
        "artifact_uri": model_version.artifact_uri,
        "artifact_sha256": model_version.artifact_sha256,
        "strategy": deployment.strategy,
    }


@transaction.atomic
def deployment_create(
    *,
    org: Organization,
    robot_id: str,
    model_version_id: int,
    strategy: str = DeploymentStrategy.IMMEDIATE,
    created_by: User | None = None,
) -> DeploymentResult:
    """Create a pending deployment of a model version and queue its command.

    The deploy command carries the version's name, number, artifact URI and
    SHA-256 for the robot to fetch. A deployment still pending on the robot is
    superseded: it and its command are cancelled. Raises NotFound for an
    unknown robot or version of ``org``; Conflict when the robot is under
    emergency stop, when another deployment is in progress on it, or when the
    version is not validated or deployed or has no artifact.
    """
    if strategy not in DeploymentStrategy.values:
        raise InvalidInput(
            f"strategy {strategy!r} is not one of: "
            f"{', '.join(DeploymentStrategy.values)}.",
            errors={"strategy": ["Unknown strategy."]},
        )

    # The robot row lock serialises this with emergency stops of the robot.
    robot = _lock_robot(org=org, robot_id=robot_id)
    if robot.estopped:
        raise Conflict(
            f"Robot {robot.robot_id} is under emergency stop; it accepts no "
            "deployment until the stop is released.",
            code="robot_estopped",
        )
    model_version = _deployable_model_version(
        org=org, model_version_id=model_version_id
    )

    return _deployment_queue(
        org=org,
        robot=robot,
        model_version=model_version,
        strategy=strategy,
        created_by=created_by,
    )


def _deployment_queue(
    *,
    org: Organization,
    robot: Robot,
    model_version: ModelVersion,
    strategy: str,
    created_by: User | None,
) -> DeploymentResult:
    """Queue a deployment of a checked version to a locked robot."""
    # One deployment at a time: one in progress blocks, a pending one is
    # replaced because the robot has not started on it.
    active = list(
        robot.deployments.select_for_update().filter(
            status__in=ACTIVE_DEPLOYMENT_STATUSES
        )
    )
    for deployment in active:
        if deployment.status == DeploymentStatus.IN_PROGRESS:
            raise Conflict(
                f"Deployment {deployment.pk} is in progress on robot "
                f"{robot.robot_id}; wait until it finishes before deploying "
                "another version.",
                code="deployment_in_progress",
            )
    _cancel_deployments(
        active,
        reason=f"Superseded by a deployment of {model_version} to {robot.robot_id}.",
    )

    # The command's payload names the deployment, so the deployment comes first.
    deployment = Deployment.objects.create(
        org=org,
        robot=robot,
        model_version=model_version,
        strategy=strategy,
        created_by=created_by,
    )
    command = RobotCommand.objects.create(
        org=org,
        robot=robot,
        kind=CommandKind.DEPLOY,
        priority=COMMAND_PRIORITY[CommandKind.DEPLOY],
        payload=_deploy_payload(deployment, model_version),
        created_by=created_by,
    )
    deployment.command = command
    deployment.save(update_fields=["command"])
    robot_commands_changed(robot.pk)

    logger.info(
        "Created deployment %s of model version %s to robot %s (org %s); "
        "command %s queued, superseded deployments %s",
        deployment.pk,
        model_version.pk,
        robot.robot_id,
        org.pk,
        command.pk,
        [d.pk for d in active],
    )
    return DeploymentResult(deployment=deployment, command=command, superseded=active)


@transaction.atomic
def robot_emergency_stop(
    *,
    org: Organization,
    robot_id: str,
    reason: str = "",
    requested_by: User | None = None,
) -> EmergencyStopResult:
    """Put a robot under emergency stop and queue the stop command.

    When the enclosing transaction commits, the robot is ``estopped`` and one
    emergency stop command with the highest priority is queued for it. Its
    pending and in-progress deployments are cancelled, and so are its
    unfinished deploy commands. The stop is idempotent. On a robot already
    stopped it keeps the first reason, reuses the stop command unless that
    one failed or expired, and sets ``already_estopped``. The robot row is
    locked, so a concurrent deployment either commits first and is cancelled
    here or waits and then reads the stop. Raises NotFound for an unknown
    robot of ``org``.
    """
    reason = reason.strip()
    if len(reason) > MAX_ESTOP_REASON_LENGTH:
        raise InvalidInput(
            f"reason is {len(reason)} characters long; the maximum is "
            f"{MAX_ESTOP_REASON_LENGTH}.",
            errors={"reason": [f"At most {MAX_ESTOP_REASON_LENGTH} characters."]},
        )

    robot = _lock_robot(org=org, robot_id=robot_id)
    already_estopped = robot.estopped

    # Step 1: the robot's stored state.
    if not already_estopped:
        robot.estopped = True
        robot.estopped_at = timezone.now()
        robot.estop_reason = reason
        robot.save(
            update_fields=["estopped", "estopped_at", "estop_reason", "updated_at"]
        )

    # Step 2: the stop command, reused on a repeated stop so that stop
    # commands do not pile up in the robot's queue.
    command = None
    if already_estopped:
        latest = robot_latest_stop_command(robot=robot)
        if latest is not None and latest.status in _LIVE_STOP_COMMAND_STATUSES:
            command = latest
    if command is None:
        command = RobotCommand.objects.create(
            org=org,
            robot=robot,
            kind=CommandKind.EMERGENCY_STOP,
            priority=COMMAND_PRIORITY[CommandKind.EMERGENCY_STOP],
            payload={"reason": robot.estop_reason},
            created_by=requested_by,
        )

    # Step 3: nothing may be installed on a stopped robot.
    cancel_reason = f"Cancelled by the emergency stop of robot {robot.robot_id}."
    active = list(
        robot.deployments.select_for_update().filter(
            status__in=ACTIVE_DEPLOYMENT_STATUSES
        )
    )
    _cancel_deployments(active, reason=cancel_reason)
    robot.commands.filter(
        kind=CommandKind.DEPLOY, status__in=UNFINISHED_COMMAND_STATUSES
    ).update(status=CommandStatus.CANCELLED, result_message=cancel_reason)

    # Step 4: a release sent before this stop must not lift it.
    robot.commands.filter(
        kind=CommandKind.RELEASE_EMERGENCY_STOP,
        status__in=UNFINISHED_COMMAND_STATUSES,
    ).update(status=CommandStatus.CANCELLED, result_message=cancel_reason)
    robot_commands_changed(robot.pk)

    logger.warning(
        "Emergency stop of robot %s (org %s) by user %s: reason %r, command %s, "
        "already stopped %s, cancelled deployments %s",
        robot.robot_id,
        org.pk,
        requested_by.pk if requested_by else None,
        reason,
        command.pk,
        already_estopped,
        [d.pk for d in active],
    )
    return EmergencyStopResult(
        robot=robot,
        command=command,
        already_estopped=already_estopped,
        cancelled_deployments=active,
    )


@transaction.atomic
def robot_rotate_token(*, org: Organization, robot_id: str) -> tuple[Robot, str]:
    """Give a robot a new token and return the robot with it.

    The old token stops working when the transaction commits, because the
    row stores only the new token's hash. Raises NotFound for an unknown
    robot of ``org``.
    """
    robot = _lock_robot(org=org, robot_id=robot_id)
    token = credentials.new_token(ROBOT_TOKEN_PREFIX)
    robot.token_prefix = credentials.display_prefix(token)
    robot.token_hash = credentials.token_hash(token, salt=ROBOT_TOKEN_SALT)
    robot.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    logger.warning("Rotated the token of robot %s (org %s)", robot.robot_id, org.pk)
    return robot, token


@transaction.atomic
def robot_release_emergency_stop(
    *,
    org: Organization,
    robot_id: str,
    reason: str,
    requested_by: User | None = None,
) -> RobotCommand:
    """Queue a release of a robot's emergency stop and return its command.

    The robot stays ``estopped`` until its agent acknowledges the release as
    succeeded. A release still on its way is returned again instead of
    queueing a second one. Raises InvalidInput for a blank or over-long
    ``reason``, NotFound for an unknown robot and Conflict when the robot is
    not under emergency stop.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "reason is blank. Say why it is safe to release the robot, such as "
            "'cell inspected, area clear'.",
            errors={"reason": ["Required: why the release is safe."]},
        )
    if len(reason) > MAX_ESTOP_REASON_LENGTH:
        raise InvalidInput(
            f"reason is {len(reason)} characters long; the maximum is "
            f"{MAX_ESTOP_REASON_LENGTH}.",
            errors={"reason": [f"At most {MAX_ESTOP_REASON_LENGTH} characters."]},
        )

    robot = _lock_robot(org=org, robot_id=robot_id)
    if not robot.estopped:
        raise Conflict(
            f"Robot {robot.robot_id} is not under emergency stop, so there is "
            "nothing to release.",
            code="robot_not_estopped",
        )

    pending = (
        robot.commands.filter(
            kind=CommandKind.RELEASE_EMERGENCY_STOP,
            status__in=UNFINISHED_COMMAND_STATUSES,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if pending is not None:
        return pending

    command = RobotCommand.objects.create(
        org=org,
        robot=robot,
        kind=CommandKind.RELEASE_EMERGENCY_STOP,
        priority=COMMAND_PRIORITY[CommandKind.RELEASE_EMERGENCY_STOP],
        payload={"reason": reason},
        created_by=requested_by,
    )
    robot_commands_changed(robot.pk)
    logger.warning(
        "Release of the emergency stop of robot %s (org %s) requested by user "
        "%s: reason %r, command %s",
        robot.robot_id,
        org.pk,
        requested_by.pk if requested_by else None,
        reason,
        command.pk,
    )
    return command


@transaction.atomic
def deployment_rollback(
    *, org: Organization, robot_id: str, created_by: User | None = None
) -> tuple[Deployment, DeploymentResult]:
    """Redeploy the robot's previous successful version.

    The robot's current deployment (its latest succeeded one) becomes
    rolled back, and a new immediate deployment of the latest succeeded
    version before it that is a different model version is queued. Returns
    the rolled-back deployment and the new deployment. Raises Conflict when
    the robot is under emergency stop, has a deployment in progress, or has
    no earlier successful version, and when that version can no longer be
    deployed (retired).
    """
    robot = _lock_robot(org=org, robot_id=robot_id)
    if robot.estopped:
        raise Conflict(
            f"Robot {robot.robot_id} is under emergency stop; release the stop "
            "before rolling back.",
            code="robot_estopped",
        )

    succeeded = list(
        robot.deployments.select_for_update()
        .filter(status=DeploymentStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
    )
    current = succeeded[0] if succeeded else None
    previous = next(
        (
            d
            for d in succeeded[1:]
            if current and d.model_version_id != current.model_version_id
        ),
        None,
    )
    if previous is None:
        raise Conflict(
            f"Robot {robot.robot_id} has no earlier successful deployment of "
            "another model version to roll back to.",
            code="no_previous_deployment",
        )

    model_version = _deployable_model_version(
        org=org, model_version_id=previous.model_version_id
    )
    result = _deployment_queue(
        org=org,
        robot=robot,
        model_version=model_version,
        strategy=DeploymentStrategy.IMMEDIATE,
        created_by=created_by,
    )
    current.transition_to(DeploymentStatus.ROLLED_BACK)
    current.save(update_fields=["status"])
    logger.warning(
        "Rolled back deployment %s on robot %s (org %s); deployment %s "
        "redeploys model version %s",
        current.pk,
        robot.robot_id,
        org.pk,
        result.deployment.pk,
        model_version.pk,
    )
    return current, result


def _lock_alert(*, org: Organization, alert_id: int) -> Alert:
    return Alert.objects.select_for_update().get_for_org(
        org, label="alert", pk=alert_id
    )


@transaction.atomic
def alert_acknowledge(*, org: Organization, alert_id: int, user: User | None) -> Alert:
    """Move an open alert to acknowledged; Conflict for any other status."""
    alert = _lock_alert(org=org, alert_id=alert_id)
    if alert.status != AlertStatus.OPEN:
        raise Conflict(
            f"Alert {alert.pk} is {alert.status}; only an open alert can be "
            "acknowledged.",
            code="invalid_transition",
        )
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    logger.info("Alert %s acknowledged by user %s", alert.pk, user.pk if user else None)
    return alert


@transaction.atomic
def alert_resolve(*, org: Organization, alert_id: int, user: User | None) -> Alert:
    """Move an acknowledged alert to resolved; Conflict for any other status.

    An open alert must be acknowledged first, so that every resolved alert
    was seen by someone.
    """
    alert = _lock_alert(org=org, alert_id=alert_id)
    if alert.status != AlertStatus.ACKNOWLEDGED:
        fix = " Acknowledge it first." if alert.status == AlertStatus.OPEN else ""
        raise Conflict(
            f"Alert {alert.pk} is {alert.status}; only an acknowledged alert can "
            f"be resolved.{fix}",
            code="invalid_transition",
        )
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = timezone.now()
    alert.save(update_fields=["status", "resolved_at"])
    logger.info("Alert %s resolved by user %s", alert.pk, user.pk if user else None)
    return alert
