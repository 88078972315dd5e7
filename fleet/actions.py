"""Actions of the fleet category: fleet summary, robots, deployments, e-stop."""

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator, validate_slug
from django.utils import timezone

from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    ActionParams,
    JSONObjectField,
    NoParams,
    PaginationParams,
    StrictCharField,
    StrictChoiceField,
    object_id_field,
)
from fleet import selectors, services
from fleet.agent import services as agent_services
from fleet.choices import DeploymentStatus, DeploymentStrategy, RobotStatus
from fleet.models import Alert, Deployment, Heartbeat, Robot, RobotCommand


def _iso(value):
    return value.isoformat() if value else None


# Django's slug rule, with a message that shows an example.
ROBOT_ID_VALIDATOR = RegexValidator(
    validate_slug.regex,
    message="Must be a slug of letters, digits, hyphens and underscores, such "
    "as 'arm-01'.",
    code="invalid",
)


def robot_id_field(**kwargs) -> StrictCharField:
    """Return a field for a robot's ``robot_id`` slug, such as 'arm-01'."""
    kwargs.setdefault("help_text", "The robot's id, a slug such as 'arm-01'.")
    return StrictCharField(
        max_length=services.ROBOT_ID_MAX_LENGTH,
        validators=[ROBOT_ID_VALIDATOR],
        **kwargs,
    )


def model_version_brief(model_version) -> dict | None:
    if model_version is None:
        return None
    return {
        "id": model_version.pk,
        "name": model_version.name,
        "version": model_version.version,
        "status": model_version.status,
    }


def robot_data(robot: Robot, *, now: datetime | None = None) -> dict:
    """Serialize a robot; its status is the annotated one when present."""
    now = now or timezone.now()
    status = getattr(robot, "derived_status", None) or robot.status
    return {
        "id": robot.pk,
        "robot_id": robot.robot_id,
        "name": robot.name,
        "robot_type": robot.robot_type,
        "site": robot.site,
        "status": status,
        "mode": robot.mode,
        "estopped": robot.estopped,
        "last_heartbeat_at": _iso(robot.last_heartbeat_at),
        "heartbeat_age_seconds": robot.heartbeat_age(now),
        "battery": robot.battery,
        "software_version": robot.software_version,
        "current_model_version": model_version_brief(robot.current_model_version),
        "token_prefix": robot.token_prefix,
        "metadata": robot.metadata,
        "created_at": _iso(robot.created_at),
    }


def command_data(command: RobotCommand) -> dict:
    return {
        "id": command.pk,
        "kind": command.kind,
        "priority": command.priority,
        "status": command.status,
        "payload": command.payload,
        "result_message": command.result_message,
        "created_at": _iso(command.created_at),
        "delivered_at": _iso(command.delivered_at),
        "acked_at": _iso(command.acked_at),
        "expires_at": _iso(command.expires_at),
    }


def deployment_data(deployment: Deployment | None, *, robot_id: str) -> dict | None:
    if deployment is None:
        return None
    return {
        "id": deployment.pk,
        "robot_id": robot_id,
        "model_version": model_version_brief(deployment.model_version),
        "strategy": deployment.strategy,
        "status": deployment.status,
        "command_id": deployment.command_id,
        "error": deployment.error,
        "created_at": _iso(deployment.created_at),
        "started_at": _iso(deployment.started_at),
        "finished_at": _iso(deployment.finished_at),
    }


def heartbeat_data(heartbeat: Heartbeat | None) -> dict | None:
    if heartbeat is None:
        return None
    return {
        "received_at": _iso(heartbeat.received_at),
        "battery": heartbeat.battery,
        "pose": heartbeat.pose,
        "software_version": heartbeat.software_version,
        "model_version": heartbeat.model_version,
        "idle": heartbeat.idle,
        "estopped": heartbeat.estopped,
        "faults": heartbeat.faults,
    }


def alert_data(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "robot_id": alert.robot.robot_id,
        "code": alert.code,
        "source": alert.source,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "occurrences": alert.occurrences,
        "created_at": _iso(alert.created_at),
        "last_seen_at": _iso(alert.last_seen_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "resolved_at": _iso(alert.resolved_at),
    }


@action(
    name="get_fleet_summary",
    category="fleet",
    description="High-level fleet summary: counts by status, alerts, tickets.",
    scopes=["fleet:read"],
    risk=Risk.READ,
    params=NoParams,
)
def get_fleet_summary(context, params):
    return selectors.fleet_summary(org=context.org)


class ListRobotsParams(PaginationParams):
    status = StrictChoiceField(
        choices=RobotStatus.values,
        required=False,
        help_text="Only robots with this status; online and offline derive "
        "from the age of the last heartbeat.",
    )
    site = StrictCharField(
        max_length=200, required=False, help_text="Only robots at this site."
    )
    search = StrictCharField(
        max_length=200,
        required=False,
        help_text="Text to find in the robot id, name or type, ignoring case.",
    )


@action(
    name="list_robots",
    category="fleet",
    description="List robots with optional status, site, and search filters.",
    scopes=["fleet:read"],
    risk=Risk.READ,
    params=ListRobotsParams,
)
def list_robots(context, params):
    now = timezone.now()
    queryset = selectors.robot_list(
        org=context.org,
        now=now,
        status=params.get("status"),
        site=params.get("site"),
        search=params.get("search"),
    )
    return paginate(queryset, params, lambda robot: robot_data(robot, now=now))


class RobotIdParams(ActionParams):
    robot_id = robot_id_field()


@action(
    name="get_robot_state",
    category="fleet",
    description="Detailed state of a single robot: heartbeat, commands, alerts.",
    scopes=["fleet:read"],
    risk=Risk.READ,
    params=RobotIdParams,
)
def get_robot_state(context, params):
    now = timezone.now()
    robot = selectors.robot_get(org=context.org, robot_id=params["robot_id"], now=now)
    # Commands past their acknowledgement deadline show as expired.
    agent_services.robot_commands_expire(robot=robot, now=now)
    deployments = selectors.robot_deployments(robot=robot)
    open_alerts = selectors.robot_open_alerts(robot=robot)
    last_heartbeat = selectors.robot_last_heartbeat(robot=robot)
    return robot_data(robot, now=now) | {
        "pose": robot.pose,
        "idle": robot.idle,
        "reported_model_version": robot.reported_model_version,
        "last_heartbeat": heartbeat_data(last_heartbeat),
        "open_alerts_by_severity": selectors.alerts_count_by_severity(open_alerts),
        "heartbeat_timeout_seconds": settings.CENTEROS_HEARTBEAT_TIMEOUT,
        "estop": {
            "estopped": robot.estopped,
            "estopped_at": _iso(robot.estopped_at),
            "reason": robot.estop_reason,
        },
        "recent_commands": [
            command_data(c) for c in selectors.robot_recent_commands(robot=robot)
        ],
        "open_alerts": [alert_data(a) for a in open_alerts],
        "active_deployment": deployment_data(
            deployments["active"], robot_id=robot.robot_id
        ),
        "current_deployment": deployment_data(
            deployments["current"], robot_id=robot.robot_id
        ),
        "previous_deployment": deployment_data(
            deployments["previous"], robot_id=robot.robot_id
        ),
    }


class RegisterRobotParams(ActionParams):
    robot_id = robot_id_field(
        help_text="A slug unique in the organisation, such as 'arm-01'."
    )
    name = StrictCharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="A name people recognise the robot by.",
    )
    robot_type = StrictCharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text="The kind of robot, such as 'arm' or 'mobile_manipulator'.",
    )
    site = StrictCharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="Where the robot is, such as 'lab-1'.",
    )
    metadata = JSONObjectField(
        required=False, default=dict, help_text="Free-form JSON object."
    )


@action(
    name="register_robot",
    category="fleet",
    description="Register a new robot in the fleet.",
    scopes=["fleet:write"],
    risk=Risk.WRITE,
    params=RegisterRobotParams,
)
def register_robot(context, params):
    robot, token = services.robot_register(
        org=context.org,
        robot_id=params["robot_id"],
        name=params["name"],
        robot_type=params["robot_type"],
        site=params["site"],
        metadata=params["metadata"],
        created_by=context.user,
    )
    # The token is in this response only; the robot row keeps its hash.
    return robot_data(robot) | {"token": token}


class DeployModelParams(ActionParams):
    robot_id = robot_id_field()
    model_version_id = object_id_field("model version to deploy")
    strategy = StrictChoiceField(
        choices=DeploymentStrategy.values,
        required=False,
        default=DeploymentStrategy.IMMEDIATE,
        help_text="'immediate' switches at once, 'on_idle' when the robot is idle.",
    )


@action(
    name="deploy_model",
    category="fleet",
    description="Deploy a validated model version to a specific robot.",
    scopes=["fleet:write", "models:read"],
    risk=Risk.WRITE,
    params=DeployModelParams,
)
def deploy_model(context, params):
    result = services.deployment_create(
        org=context.org,
        robot_id=params["robot_id"],
        model_version_id=params["model_version_id"],
        strategy=params["strategy"],
        created_by=context.user,
    )
    return deployment_data(result.deployment, robot_id=params["robot_id"]) | {
        "command": command_data(result.command),
        "superseded_deployment_ids": [d.pk for d in result.superseded],
    }


class EmergencyStopParams(ActionParams):
    robot_id = robot_id_field()
    reason = StrictCharField(
        max_length=services.MAX_ESTOP_REASON_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text="Why the robot is stopped, kept with the stop.",
    )


@action(
    name="emergency_stop",
    category="fleet",
    description="Send an emergency stop (e-stop) command to a robot. Highest priority.",
    scopes=["fleet:write"],
    risk=Risk.SAFETY,
    params=EmergencyStopParams,
)
def emergency_stop(context, params):
    result = services.robot_emergency_stop(
        org=context.org,
        robot_id=params["robot_id"],
        reason=params["reason"],
        requested_by=context.user,
    )
    robot = result.robot
    return {
        "robot_id": robot.robot_id,
        "estopped": robot.estopped,
        "estopped_at": _iso(robot.estopped_at),
        "reason": robot.estop_reason,
        "already_estopped": result.already_estopped,
        "command": command_data(result.command),
        "cancelled_deployment_ids": [d.pk for d in result.cancelled_deployments],
    }


@action(
    name="rotate_robot_token",
    category="fleet",
    description="Issue a new robot token; the old one stops working at once.",
    scopes=["fleet:write"],
    risk=Risk.WRITE,
    params=RobotIdParams,
)
def rotate_robot_token(context, params):
    robot, token = services.robot_rotate_token(
        org=context.org, robot_id=params["robot_id"]
    )
    # The token is in this response only; the robot row keeps its hash.
    return {
        "robot_id": robot.robot_id,
        "token_prefix": robot.token_prefix,
        "token": token,
    }


class ReleaseEmergencyStopParams(ActionParams):
    robot_id = robot_id_field()
    reason = StrictCharField(
        max_length=services.MAX_ESTOP_REASON_LENGTH,
        help_text="Why it is safe to release the robot, kept in the audit log.",
    )


@action(
    name="release_emergency_stop",
    category="fleet",
    description="Release a robot's emergency stop once its agent confirms.",
    scopes=["fleet:write"],
    risk=Risk.SAFETY,
    params=ReleaseEmergencyStopParams,
)
def release_emergency_stop(context, params):
    command = services.robot_release_emergency_stop(
        org=context.org,
        robot_id=params["robot_id"],
        reason=params["reason"],
        requested_by=context.user,
    )
    # The robot stays estopped until its agent acknowledges the release.
    return {
        "robot_id": params["robot_id"],
        "estopped": True,
        "command": command_data(command),
    }


class ListDeploymentsParams(PaginationParams):
    robot_id = robot_id_field(required=False, help_text="Only this robot's.")
    status = StrictChoiceField(
        choices=DeploymentStatus.values,
        required=False,
        help_text="Only deployments with this status.",
    )
    model_version_id = object_id_field(
        "model version", required=False, help_text="Only this model version's."
    )
    model_name = StrictCharField(
        max_length=200, required=False, help_text="Only versions of this model name."
    )


@action(
    name="list_deployments",
    category="fleet",
    description="List deployments, newest first, by robot, status or model.",
    scopes=["fleet:read"],
    risk=Risk.READ,
    params=ListDeploymentsParams,
)
def list_deployments(context, params):
    queryset = selectors.deployment_list(
        org=context.org,
        robot_id=params.get("robot_id"),
        status=params.get("status"),
        model_version_id=params.get("model_version_id"),
        model_name=params.get("model_name"),
    )
    return paginate(
        queryset,
        params,
        lambda deployment: deployment_data(
            deployment, robot_id=deployment.robot.robot_id
        ),
    )


@action(
    name="rollback_deployment",
    category="fleet",
    description="Redeploy the robot's previous successful model version.",
    scopes=["fleet:write"],
    risk=Risk.WRITE,
    params=RobotIdParams,
)
def rollback_deployment(context, params):
    rolled_back, result = services.deployment_rollback(
        org=context.org, robot_id=params["robot_id"], created_by=context.user
    )
    robot_id = params["robot_id"]
    return deployment_data(result.deployment, robot_id=robot_id) | {
        "command": command_data(result.command),
        "rolled_back_deployment": deployment_data(rolled_back, robot_id=robot_id),
    }


class AlertIdParams(ActionParams):
    alert_id = object_id_field("alert")


@action(
    name="acknowledge_alert",
    category="fleet",
    description="Acknowledge an open alert: someone is working on it.",
    scopes=["fleet:write"],
    risk=Risk.WRITE,
    params=AlertIdParams,
)
def acknowledge_alert(context, params):
    alert = services.alert_acknowledge(
        org=context.org, alert_id=params["alert_id"], user=context.user
    )
    return alert_data(alert)


@action(
    name="resolve_alert",
    category="fleet",
    description="Resolve an acknowledged alert.",
    scopes=["fleet:write"],
    risk=Risk.WRITE,
    params=AlertIdParams,
)
def resolve_alert(context, params):
    alert = services.alert_resolve(
        org=context.org, alert_id=params["alert_id"], user=context.user
    )
    return alert_data(alert)
