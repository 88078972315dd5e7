"""The operator dashboard on the admin index, one panel per organisation.

Each panel reads the same selectors as the API's summary actions, and shows a
part only when the user's role in that organisation grants its read scope.
"""

from django.utils import timezone

from annotations.selectors import annotation_metrics
from centeros.admin_charts import bar_rows
from centeros.admin_mixins import AUDIT_READ_SCOPE, scopes_in_org, user_roles
from centeros.models import AuditLogEntry
from fleet.selectors import fleet_summary
from orgs.models import Organization
from training.choices import ACTIVE_STATUSES, JobStatus
from training.selectors import training_job_list

# A superuser may view every organisation. Beyond this many panels the
# dashboard shows the first organisations by name and the count of the rest.
MAX_PANELS = 20
ACTIVE_JOBS_LIMIT = 10
AUDIT_ENTRIES_LIMIT = 10


def _visible_orgs(request) -> tuple[list[Organization], int]:
    if request.user.is_superuser:
        queryset = Organization.objects.order_by("name", "pk")
    else:
        queryset = Organization.objects.filter(
            pk__in=list(user_roles(request))
        ).order_by("name", "pk")
    total = queryset.count()
    return list(queryset[:MAX_PANELS]), total


def _fleet_part(org, now) -> dict:
    summary = fleet_summary(org=org, now=now)
    severities = summary["alerts"]["open_by_severity"]
    return {
        "summary": summary,
        "by_status": bar_rows(summary["robots"]["by_status"]),
        "alerts": [
            {"severity": severity, "count": count}
            for severity, count in sorted(
                severities.items(),
                key=lambda item: (
                    ("critical", "warning", "info").index(item[0])
                    if item[0] in ("critical", "warning", "info")
                    else 9
                ),
            )
        ],
    }


def _training_part(org) -> dict:
    jobs = training_job_list(org=org).filter(status__in=ACTIVE_STATUSES)
    return {
        "running": jobs.filter(status=JobStatus.RUNNING).count(),
        "queued": jobs.filter(status=JobStatus.QUEUED).count(),
        "jobs": [
            {"job": job, "percent": round(100 * max(0.0, min(job.progress, 1.0)))}
            for job in jobs.order_by("status", "-created_at")[:ACTIVE_JOBS_LIMIT]
        ],
    }


def _annotation_part(org) -> dict:
    metrics = annotation_metrics(org=org)
    return {
        "metrics": metrics,
        "distribution": bar_rows(metrics["status_distribution"]),
    }


def dashboard_panels(request) -> dict:
    """Return the dashboard's panels for the signed-in user's organisations."""
    now = timezone.now()
    orgs, total = _visible_orgs(request)
    panels = []
    for org in orgs:
        granted = scopes_in_org(request, org.pk)
        panel = {"org": org, "role": user_roles(request).get(org.pk, "superuser")}
        if "fleet:read" in granted:
            panel["fleet"] = _fleet_part(org, now)
        if "training:read" in granted:
            panel["training"] = _training_part(org)
        if "annotations:read" in granted:
            panel["annotations"] = _annotation_part(org)
        if AUDIT_READ_SCOPE in granted:
            panel["audit"] = list(
                AuditLogEntry.objects.filter(org=org).select_related("user")[
                    :AUDIT_ENTRIES_LIMIT
                ]
            )
        panels.append(panel)
    return {"panels": panels, "hidden_orgs": max(0, total - len(orgs))}
