"""Read-side queries of the fleet: robot status, summaries and robot state.

A robot's shown status is computed in the database from the same rule as
``Robot.status``: ``estopped`` first, then the operator-set ``mode``, then
online or offline from the age of the last heartbeat against
``settings.CENTEROS_HEARTBEAT_TIMEOUT``. Filtering and counting by status
therefore run as queries and never load every robot into Python.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.utils import timezone

from fleet.choices import (
    ACTIVE_DEPLOYMENT_STATUSES,
    UNRESOLVED_ALERT_STATUSES,
    AlertSeverity,
    AlertStatus,
    CommandKind,
    CommandStatus,
    DeploymentStatus,
    RobotMode,
    RobotStatus,
)
from fleet.models import Alert, Deployment, Heartbeat, Robot, RobotCommand
from orgs.models import Organization

RECENT_COMMANDS_LIMIT = 20
OPEN_ALERTS_LIMIT = 50
STALE_ROBOT_IDS_LIMIT = 50


def heartbeat_cutoff(*, now: datetime) -> datetime:
    """Return the oldest heartbeat time that still counts as online."""
    return now - timedelta(seconds=settings.CENTEROS_HEARTBEAT_TIMEOUT)


def robot_status_q(status: str, *, now: datetime) -> Q:
    """Return the filter matching robots whose derived status is ``status``."""
    cutoff = heartbeat_cutoff(now=now)
    normal = Q(estopped=False, mode=RobotMode.NORMAL)
    conditions = {
        RobotStatus.ESTOPPED: Q(estopped=True),
        RobotStatus.MAINTENANCE: Q(estopped=False, mode=RobotMode.MAINTENANCE),
        RobotStatus.ERROR: Q(estopped=False, mode=RobotMode.ERROR),
        RobotStatus.ONLINE: normal & Q(last_heartbeat_at__gte=cutoff),
        RobotStatus.OFFLINE: normal
        & (Q(last_heartbeat_at__isnull=True) | Q(last_heartbeat_at__lt=cutoff)),
    }
    return conditions[RobotStatus(status)]


def robot_status_expression(*, now: datetime) -> Case:
    """Return a database expression with each robot's derived status."""
    return Case(
        *[
            When(robot_status_q(status, now=now), then=Value(status.value))
            for status in RobotStatus
        ],
        default=Value(RobotStatus.OFFLINE.value),
        output_field=CharField(),
    )


def _robots_with_status(*, now: datetime) -> QuerySet:
    """Return robots annotated with ``derived_status``, with their model version."""
    return Robot.objects.select_related("current_model_version").annotate(
        derived_status=robot_status_expression(now=now)
    )


def robot_list(
    *,
    org: Organization,
    now: datetime,
    status: str | None = None,
    site: str | None = None,
    search: str | None = None,
) -> QuerySet:
    """Return the org's robots matching the filters, ordered by ``robot_id``.

    ``search`` matches part of the robot id, name or type, ignoring case;
    ``site`` must match exactly.
    """
    queryset = _robots_with_status(now=now).for_org(org)
    if status:
        queryset = queryset.filter(robot_status_q(status, now=now))
    if site is not None:
        queryset = queryset.filter(site=site)
    if search:
        queryset = queryset.filter(
            Q(robot_id__icontains=search)
            | Q(name__icontains=search)
            | Q(robot_type__icontains=search)
        )
    return queryset.order_by("robot_id")


def robot_get(*, org: Organization, robot_id: str, now: datetime) -> Robot:
    """Return one robot of ``org`` by its ``robot_id``; raises NotFound."""
    return _robots_with_status(now=now).get_for_org(
        org, label="robot", robot_id=robot_id
    )


def fleet_summary(*, org: Organization, now: datetime | None = None) -> dict:
    """Return the counts of the org's fleet, computed with four queries.

    Robots are counted by derived status. ``open_by_severity`` counts alerts
    whose status is ``open``, while ``open_tickets`` also counts acknowledged
    alerts, which are unresolved but already taken up. A robot's heartbeat is
    stale when the robot has reported before but not within the heartbeat
    timeout, whatever its status. Robots that never reported are counted
    separately.
    """
    now = now or timezone.now()
    cutoff = heartbeat_cutoff(now=now)
    robots = Robot.objects.for_org(org)

    # Query 1: robots by status, plus the stale and never-reported counts.
    robot_counts = robots.aggregate(
        total=Count("pk"),
        stale=Count("pk", filter=Q(last_heartbeat_at__lt=cutoff)),
        never_reported=Count("pk", filter=Q(last_heartbeat_at__isnull=True)),
        **{
            f"status_{status.value}": Count(
                "pk", filter=robot_status_q(status, now=now)
            )
            for status in RobotStatus
        },
    )

    # Query 2: alerts by severity and the open tickets.
    alert_counts = Alert.objects.for_org(org).aggregate(
        open_total=Count("pk", filter=Q(status=AlertStatus.OPEN)),
        open_tickets=Count("pk", filter=Q(status__in=UNRESOLVED_ALERT_STATUSES)),
        **{
            f"severity_{severity.value}": Count(
                "pk", filter=Q(status=AlertStatus.OPEN, severity=severity)
            )
            for severity in AlertSeverity
        },
    )

    # Query 3: the robots silent for longest, bounded so a large fleet that
    # lost its network does not produce a huge response.
    stale_ids = list(
        robots.filter(last_heartbeat_at__lt=cutoff)
        .order_by("last_heartbeat_at", "robot_id")
        .values_list("robot_id", flat=True)[:STALE_ROBOT_IDS_LIMIT]
    )

    # Query 4: commands still on their way and recently expired ones.
    command_counts = RobotCommand.objects.for_org(org).aggregate(
        queued=Count("pk", filter=Q(status=CommandStatus.QUEUED)),
        awaiting_ack=Count("pk", filter=Q(status=CommandStatus.DELIVERED)),
        expired_last_24h=Count(
            "pk",
            filter=Q(
                status=CommandStatus.EXPIRED,
                expires_at__gte=now - timedelta(hours=24),
            ),
        ),
    )

    return {
        "commands": command_counts,
        "robots": {
            "total": robot_counts["total"],
            "by_status": {
                status.value: robot_counts[f"status_{status.value}"]
                for status in RobotStatus
            },
            "never_reported": robot_counts["never_reported"],
        },
        "alerts": {
            "open_total": alert_counts["open_total"],
            "open_by_severity": {
                severity.value: alert_counts[f"severity_{severity.value}"]
                for severity in AlertSeverity
            },
        },
        "open_tickets": alert_counts["open_tickets"],
        "stale_heartbeats": {
            "count": robot_counts["stale"],
            "robot_ids": stale_ids,
            "truncated": robot_counts["stale"] > len(stale_ids),
        },
        "heartbeat_timeout_seconds": settings.CENTEROS_HEARTBEAT_TIMEOUT,
        "generated_at": now.isoformat(),
    }


def robot_recent_commands(*, robot: Robot, limit: int = RECENT_COMMANDS_LIMIT) -> list:
    """Return the robot's latest commands, newest first."""
    return list(robot.commands.order_by("-created_at", "-id")[:limit])


def robot_open_alerts(*, robot: Robot, limit: int = OPEN_ALERTS_LIMIT) -> list:
    """Return the robot's unresolved alerts (open or acknowledged), newest first."""
    return list(
        robot.alerts.select_related("robot")
        .filter(status__in=UNRESOLVED_ALERT_STATUSES)
        .order_by("-last_seen_at", "-id")[:limit]
    )


def robot_deployments(*, robot: Robot) -> dict:
    """Return the robot's active, current and previous deployments.

    ``active`` is the deployment still pending or in progress, ``current``
    the latest succeeded one (what the robot runs) and ``previous`` the
    succeeded one before it (what a rollback would return to). Each may be
    None.
    """
    deployments = robot.deployments.select_related("model_version")
    active = (
        deployments.filter(status__in=ACTIVE_DEPLOYMENT_STATUSES)
        .order_by("-created_at", "-id")
        .first()
    )
    succeeded = list(
        deployments.filter(status=DeploymentStatus.SUCCEEDED).order_by(
            "-finished_at", "-id"
        )[:2]
    )
    return {
        "active": active,
        "current": succeeded[0] if succeeded else None,
        "previous": succeeded[1] if len(succeeded) > 1 else None,
    }


def robot_latest_stop_command(*, robot: Robot) -> RobotCommand | None:
    """Return the robot's most recent emergency stop command, if any."""
    return (
        robot.commands.filter(kind=CommandKind.EMERGENCY_STOP)
        .order_by("-created_at", "-id")
        .first()
    )


def robot_last_heartbeat(*, robot: Robot) -> Heartbeat | None:
    """Return the robot's newest stored heartbeat, if any."""
    return robot.heartbeats.order_by("-id").first()


def alerts_count_by_severity(alerts: list[Alert]) -> dict:
    """Return the number of alerts of each severity, every severity listed."""
    counts = {severity.value: 0 for severity in AlertSeverity}
    for alert in alerts:
        counts[alert.severity] += 1
    return counts


def deployment_list(
    *,
    org: Organization,
    robot_id: str | None = None,
    status: str | None = None,
    model_version_id: int | None = None,
    model_name: str | None = None,
) -> QuerySet:
    """Return the org's deployments matching the filters, newest first."""
    queryset = Deployment.objects.for_org(org).select_related("robot", "model_version")
    if robot_id is not None:
        queryset = queryset.filter(robot__robot_id=robot_id)
    if status:
        queryset = queryset.filter(status=status)
    if model_version_id is not None:
        queryset = queryset.filter(model_version_id=model_version_id)
    if model_name is not None:
        queryset = queryset.filter(model_version__name=model_name)
    return queryset.order_by("-created_at", "-id")
