"""Platform-wide statistics and system health, and the stats actions.

This is the one module of the core that reads every domain app's models, so
the action layer core itself stays free of domain imports. It is imported
from ``CenterosConfig.ready`` to register its actions.
"""

import logging

from django.db.models import Count, Q, Sum
from django.utils import timezone

from annotations.choices import TaskStatus
from annotations.models import AnnotationTask
from centeros import __version__
from centeros.actions import Risk, action
from centeros.actions.params import ActionParams, NoParams, object_id_field
from centeros.errors import NotFound, PermissionDenied
from centeros.health import check_database, check_storage, check_task_queue
from centeros.scopes import Role
from datasets.choices import DatasetStatus
from datasets.models import Dataset
from fleet.choices import RobotMode, RobotStatus
from fleet.models import Robot
from models_registry.choices import ModelStatus
from models_registry.models import ModelVersion
from orgs.models import Organization
from training.choices import JobStatus
from training.models import TrainingJob

logger = logging.getLogger(__name__)

# Overall health ranks: the worst check decides, except that only the
# database can make the whole system "error" (see system_health).
OK, DEGRADED, ERROR = "ok", "degraded", "error"


def _status_counts(queryset, statuses: list[str]) -> dict:
    """Return ``{"total", "by_status"}`` with every status, zeros included."""
    by_status = dict.fromkeys(statuses, 0)
    rows = queryset.order_by().values("status").annotate(count=Count("id"))
    for row in rows:
        by_status[row["status"]] = row["count"]
    return {"total": sum(by_status.values()), "by_status": by_status}


def _dataset_stats(org: Organization) -> dict:
    datasets = Dataset.objects.for_org(org)
    stats = _status_counts(datasets, DatasetStatus.values)

    # Only ready datasets have a stored, checked file; the declared size of
    # a pending upload is not data on disk yet.
    ready_bytes = datasets.filter(status=DatasetStatus.READY).aggregate(
        total=Sum("size_bytes")
    )["total"]
    stats["total_bytes"] = ready_bytes or 0
    return stats


def _robot_stats(org: Organization) -> dict:
    """Count robots by the status that ``Robot.status`` derives.

    The same precedence as the model property, computed in one query:
    emergency stop first, then maintenance or error mode, then online when
    the last heartbeat is recent enough, offline otherwise.
    """
    normal = Q(estopped=False, mode=RobotMode.NORMAL)
    counts = (
        Robot.objects.for_org(org)
        .order_by()
        .aggregate(
            total_count=Count("id"),
            estopped_count=Count("id", filter=Q(estopped=True)),
            maintenance_count=Count(
                "id", filter=Q(estopped=False, mode=RobotMode.MAINTENANCE)
            ),
            error_count=Count("id", filter=Q(estopped=False, mode=RobotMode.ERROR)),
            online_count=Count(
                "id",
                filter=normal & Q(last_heartbeat_at__gte=Robot.online_cutoff()),
            ),
        )
    )
    by_status = {
        RobotStatus.ONLINE.value: counts["online_count"],
        RobotStatus.OFFLINE.value: 0,
        RobotStatus.ESTOPPED.value: counts["estopped_count"],
        RobotStatus.MAINTENANCE.value: counts["maintenance_count"],
        RobotStatus.ERROR.value: counts["error_count"],
    }
    by_status[RobotStatus.OFFLINE.value] = counts["total_count"] - sum(
        by_status.values()
    )
    return {"total": counts["total_count"], "by_status": by_status}


def platform_stats(*, org: Organization) -> dict:
    """Return counts of every kind of object of ``org``, by status.

    Costs a fixed number of queries whatever the number of rows.
    """
    return {
        "org_id": org.pk,
        "generated_at": timezone.now().isoformat(),
        "datasets": _dataset_stats(org),
        "training_jobs": _status_counts(
            TrainingJob.objects.for_org(org), JobStatus.values
        ),
        "model_versions": _status_counts(
            ModelVersion.objects.for_org(org), ModelStatus.values
        ),
        "robots": _robot_stats(org),
        "annotation_tasks": _status_counts(
            AnnotationTask.objects.for_org(org), TaskStatus.values
        ),
    }


def system_health(*, include_detail: bool = True) -> dict:
    """Run the database, storage and task queue checks.

    Overall status: ``error`` when the database fails, because nothing works
    without it; ``degraded`` when storage or the task queue is not ok, since
    the rest of the platform still works; ``ok`` otherwise. Without
    ``include_detail`` the checks' error messages, which can contain server
    paths, are left out.
    """
    checks = {
        "database": check_database(),
        "storage": check_storage(),
        "task_queue": check_task_queue(),
    }

    if checks["database"]["status"] != OK:
        overall = ERROR
    elif any(check["status"] != OK for check in checks.values()):
        overall = DEGRADED
    else:
        overall = OK
    if overall != OK:
        failing = sorted(
            name for name, check in checks.items() if check["status"] != OK
        )
        logger.warning("System health is %s; failing checks: %s", overall, failing)

    if not include_detail:
        checks = {
            name: {key: value for key, value in check.items() if key != "detail"}
            for name, check in checks.items()
        }
    return {
        "status": overall,
        "version": __version__,
        "checked_at": timezone.now().isoformat(),
        "checks": checks,
    }


def _stats_org(context, org_id: int | None) -> Organization:
    """Return the organisation to report on, defaulting to the token's.

    Naming another organisation is a 403 for everyone but superadmins, who
    may name any existing organisation.
    """
    if org_id is None or org_id == context.org.pk:
        return context.org
    if not context.is_superadmin:
        raise PermissionDenied(
            f"This token is bound to organisation {context.org.pk}; only "
            f"superadmins may read the statistics of organisation {org_id}.",
        )
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise NotFound(
            f"No organisation with id {org_id} exists.", code="organization_not_found"
        )
    return org


class PlatformStatsParams(ActionParams):
    org_id = object_id_field(
        "organisation",
        required=False,
        help_text="Defaults to the token's; superadmins may name another.",
    )


@action(
    name="get_platform_stats",
    category="stats",
    description=(
        "Aggregated platform statistics: dataset counts, training jobs, robots, "
        "annotations."
    ),
    scopes=["stats:read"],
    risk=Risk.READ,
    params=PlatformStatsParams,
)
def get_platform_stats(context, params):
    org = _stats_org(context, params.get("org_id"))
    return platform_stats(org=org)


@action(
    name="get_system_health",
    category="stats",
    description=(
        "Check the health of backend systems: database, storage, overall status."
    ),
    scopes=["stats:read"],
    risk=Risk.READ,
    params=NoParams,
)
def get_system_health(context, params):
    show_detail = context.is_superadmin or context.principal.role == Role.ADMIN
    return system_health(include_detail=show_detail)
