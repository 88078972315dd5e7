"""Admin pages of robots, robot commands, deployments and alerts.

Robots are registered with the register_robot action, which issues the robot
token, and commands and deployments come from the fleet services, so none of
them can be added here. The stored state (emergency stop, heartbeat,
statuses) is read-only because only the services may change it.
"""

from django.contrib import admin
from django.utils import timezone

from fleet import selectors
from fleet.models import Alert, Deployment, Robot, RobotCommand


class NoAddMixin:
    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Robot)
class RobotAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "robot_id",
        "name",
        "org",
        "status_display",
        "site",
        "last_heartbeat_at",
    )
    list_filter = ("org", "mode", "estopped", "robot_type", "site")
    search_fields = ("robot_id", "name", "site", "robot_type")
    list_select_related = ("org",)
    exclude = ("token_hash",)
    readonly_fields = (
        "org",
        "robot_id",
        "token_prefix",
        "estopped",
        "estopped_at",
        "estop_reason",
        "last_heartbeat_at",
        "battery",
        "pose",
        "software_version",
        "current_model_version",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_queryset(self, request):
        now = timezone.now()
        return (
            super()
            .get_queryset(request)
            .annotate(derived_status=selectors.robot_status_expression(now=now))
        )

    @admin.display(description="status", ordering="derived_status")
    def status_display(self, robot: Robot) -> str:
        return robot.derived_status


@admin.register(RobotCommand)
class RobotCommandAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "robot",
        "kind",
        "priority",
        "status",
        "created_at",
        "delivered_at",
        "acked_at",
    )
    list_filter = ("kind", "status", "org")
    search_fields = ("robot__robot_id",)
    list_select_related = ("robot",)
    readonly_fields = (
        "org",
        "robot",
        "kind",
        "priority",
        "payload",
        "status",
        "result_message",
        "created_by",
        "created_at",
        "delivered_at",
        "acked_at",
        "expires_at",
    )


@admin.register(Deployment)
class DeploymentAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "robot",
        "model_version",
        "strategy",
        "status",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "strategy", "org")
    search_fields = ("robot__robot_id", "model_version__name")
    list_select_related = ("robot", "model_version")
    readonly_fields = (
        "org",
        "robot",
        "model_version",
        "strategy",
        "status",
        "command",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )


@admin.register(Alert)
class AlertAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "robot",
        "code",
        "severity",
        "status",
        "occurrences",
        "last_seen_at",
    )
    list_filter = ("status", "severity", "org")
    search_fields = ("robot__robot_id", "code", "message")
    list_select_related = ("robot",)
    readonly_fields = (
        "org",
        "robot",
        "code",
        "severity",
        "message",
        "status",
        "occurrences",
        "created_at",
        "last_seen_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
    )
