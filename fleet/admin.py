"""Admin pages of robots, robot commands, deployments, alerts and heartbeats.

Robots are registered with the register_robot action, which issues the robot
token, and commands and deployments come from the fleet services, so none of
them can be added here. The stored state (emergency stop, heartbeat,
statuses) is read-only because only the services may change it. Emergency
stop, release, deploy and the alert transitions run the same services as the
API actions of the same names, with a confirmation or form page first.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from centeros.admin_mixins import (
    OrgScopedAdminMixin,
    action_scopes,
    intermediate_page,
    report_outcomes,
    run_operation,
    scoped_org_filter,
    scopes_in_org,
    service_action,
    single_org,
)
from fleet import selectors, services
from fleet.choices import AlertStatus, DeploymentStrategy
from fleet.models import Alert, Deployment, Heartbeat, Robot, RobotCommand
from models_registry.models import ModelVersion

HEARTBEAT_HISTORY_SHOWN = 20
DEPLOYMENTS_SHOWN = 10


class EmergencyStopForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=services.MAX_ESTOP_REASON_LENGTH,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Why the robots are stopped; kept with the stop.",
    )


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        max_length=services.MAX_ESTOP_REASON_LENGTH,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Why it is safe to release, such as 'cell inspected, area clear'. "
        "Each robot stays stopped until its agent confirms the release.",
    )


class DeployForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(),
        help_text="Validated or deployed versions of the robots' organisation.",
    )
    strategy = forms.ChoiceField(
        choices=DeploymentStrategy.choices, initial=DeploymentStrategy.IMMEDIATE
    )

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = (
            ModelVersion.objects.for_org(org)
            .filter(status__in=services.DEPLOYABLE_MODEL_STATUSES)
            .order_by("name", "-version")
        )


@admin.register(Robot)
class RobotAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "fleet"
    change_form_template = "admin/centeros/change_form.html"
    list_display = (
        "robot_id",
        "name",
        "org",
        "status_display",
        "site",
        "battery",
        "current_model_version",
        "last_heartbeat_at",
    )
    list_filter = (
        scoped_org_filter(),
        "mode",
        "estopped",
        "robot_type",
        "site",
    )
    search_fields = ("robot_id", "name", "site", "robot_type")
    list_select_related = ("org", "current_model_version")
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
        "idle",
        "reported_model_version",
        "current_model_version",
        "created_by",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("robot_id", "org", "name", "robot_type", "site", "mode")}),
        (
            "Reported state",
            {
                "fields": (
                    "estopped",
                    "estopped_at",
                    "estop_reason",
                    "last_heartbeat_at",
                    "battery",
                    "idle",
                    "software_version",
                    "reported_model_version",
                    "current_model_version",
                    "pose",
                )
            },
        ),
        (
            "Registration",
            {
                "classes": ("collapse",),
                "fields": (
                    "metadata",
                    "token_prefix",
                    "created_by",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    actions = ("emergency_stop_robots", "release_emergency_stop", "deploy_to_robots")

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

    # The robot page: operation buttons and its history.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        robot = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if robot is not None:
            extra_context |= {
                "object_tools": self._tools(request, robot),
                "panel_template": "admin/fleet/robot/history_panel.html",
                "panel_first": True,
                "heartbeats": list(
                    robot.heartbeats.order_by("-received_at", "-id")[
                        :HEARTBEAT_HISTORY_SHOWN
                    ]
                ),
                "commands": selectors.robot_recent_commands(robot=robot),
                "open_alerts": selectors.robot_open_alerts(robot=robot),
                "deployments": list(
                    robot.deployments.select_related("model_version").order_by(
                        "-created_at", "-id"
                    )[:DEPLOYMENTS_SHOWN]
                ),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _tools(self, request, robot: Robot) -> list[dict]:
        granted = scopes_in_org(request, robot.org_id)
        tools = []
        if robot.estopped:
            if set(action_scopes("release_emergency_stop")) <= granted:
                tools.append(
                    {"action": "release_emergency_stop", "label": "Release stop"}
                )
        else:
            if set(action_scopes("deploy_model")) <= granted:
                tools.append({"action": "deploy_to_robots", "label": "Deploy a model"})
        if set(action_scopes("emergency_stop")) <= granted:
            tools.append(
                {
                    "action": "emergency_stop_robots",
                    "label": "Emergency stop",
                    "danger": True,
                }
            )
        return tools

    def _back(self, queryset):
        if queryset.count() == 1:
            return HttpResponseRedirect(
                reverse("admin:fleet_robot_change", args=[queryset.first().pk])
            )
        return None

    # Operations

    @service_action(
        api_action="emergency_stop", description="Emergency stop the selected robots"
    )
    def emergency_stop_robots(self, request, queryset):
        robots = list(queryset.select_related("org"))
        form = EmergencyStopForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"]
            outcomes = [
                run_operation(
                    request,
                    action="emergency_stop",
                    org=robot.org,
                    params={"robot_id": robot.robot_id, "reason": reason},
                    call=lambda robot=robot: services.robot_emergency_stop(
                        org=robot.org,
                        robot_id=robot.robot_id,
                        reason=reason,
                        requested_by=request.user,
                    ),
                )
                for robot in robots
            ]
            report_outcomes(
                self,
                request,
                outcomes,
                "Emergency stop sent to {count} robot(s); they stay stopped "
                "until the stop is released.",
            )
            return self._back(queryset)

        return intermediate_page(
            self,
            request,
            queryset,
            action_name="emergency_stop_robots",
            title="Emergency stop",
            intro="These robots will stop at once, and their pending deployments "
            "will be cancelled. They stay stopped until the stop is released.",
            form=form,
            submit_label=f"Stop {len(robots)} robot(s) now",
            danger=True,
            object_lines=[
                f"{robot.robot_id} — {robot.name or 'unnamed'} at "
                f"{robot.site or 'no site'} ({robot.org})"
                for robot in robots
            ],
        )

    @service_action(
        api_action="release_emergency_stop",
        description="Release the emergency stop of the selected robots",
    )
    def release_emergency_stop(self, request, queryset):
        robots = list(queryset.select_related("org"))
        form = ReleaseForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"]
            outcomes = [
                run_operation(
                    request,
                    action="release_emergency_stop",
                    org=robot.org,
                    params={"robot_id": robot.robot_id, "reason": reason},
                    call=lambda robot=robot: services.robot_release_emergency_stop(
                        org=robot.org,
                        robot_id=robot.robot_id,
                        reason=reason,
                        requested_by=request.user,
                    ),
                )
                for robot in robots
            ]
            report_outcomes(
                self,
                request,
                outcomes,
                "Release queued for {count} robot(s); each stays stopped until "
                "its agent confirms.",
            )
            return self._back(queryset)

        return intermediate_page(
            self,
            request,
            queryset,
            action_name="release_emergency_stop",
            title="Release the emergency stop",
            intro="Check that every robot below is safe to move before releasing.",
            form=form,
            submit_label="Release",
            object_lines=[
                f"{robot.robot_id} — stopped {robot.estopped_at or 'not stopped'}"
                f"{': ' + robot.estop_reason if robot.estop_reason else ''}"
                for robot in robots
            ],
        )

    @service_action(
        api_action="deploy_model",
        description="Deploy a model version to the selected robots",
    )
    def deploy_to_robots(self, request, queryset):
        org = single_org(self, request, queryset)
        if org is None:
            return None
        robots = list(queryset)
        form = DeployForm(request.POST if "apply" in request.POST else None, org=org)
        if "apply" in request.POST and form.is_valid():
            version = form.cleaned_data["model_version"]
            strategy = form.cleaned_data["strategy"]
            outcomes = [
                run_operation(
                    request,
                    action="deploy_model",
                    org=org,
                    params={
                        "robot_id": robot.robot_id,
                        "model_version_id": version.pk,
                        "strategy": strategy,
                    },
                    call=lambda robot=robot: services.deployment_create(
                        org=org,
                        robot_id=robot.robot_id,
                        model_version_id=version.pk,
                        strategy=strategy,
                        created_by=request.user,
                    ),
                )
                for robot in robots
            ]
            report_outcomes(
                self,
                request,
                outcomes,
                f"Deployment of {version} queued for {{count}} robot(s).",
            )
            return self._back(queryset)

        if not form.fields["model_version"].queryset.exists():
            self.message_user(
                request,
                f"{org.name} has no validated or deployed model version to deploy; "
                "promote a version to validated first.",
                messages.ERROR,
            )
            return None
        return intermediate_page(
            self,
            request,
            queryset,
            action_name="deploy_to_robots",
            title="Deploy a model version",
            form=form,
            submit_label="Deploy",
            object_lines=[
                f"{robot.robot_id} ({robot.derived_status})" for robot in robots
            ],
        )


class ViewOnlyFleetAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "fleet"
    change_enabled = False


@admin.register(RobotCommand)
class RobotCommandAdmin(ViewOnlyFleetAdmin):
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
    list_filter = ("kind", "status", scoped_org_filter(), "created_at")
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
class DeploymentAdmin(ViewOnlyFleetAdmin):
    list_display = (
        "id",
        "robot",
        "model_version",
        "strategy",
        "status",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "strategy", scoped_org_filter(), "created_at")
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


@admin.register(Heartbeat)
class HeartbeatAdmin(ViewOnlyFleetAdmin):
    list_display = (
        "received_at",
        "robot",
        "battery",
        "idle",
        "estopped",
        "software_version",
        "model_version",
        "fault_count",
    )
    list_filter = (scoped_org_filter(), "idle", "estopped", "received_at")
    search_fields = ("robot__robot_id", "software_version", "model_version")
    list_select_related = ("robot",)
    date_hierarchy = "received_at"
    readonly_fields = (
        "org",
        "robot",
        "received_at",
        "battery",
        "pose",
        "software_version",
        "model_version",
        "idle",
        "estopped",
        "faults",
    )

    @admin.display(description="faults")
    def fault_count(self, heartbeat: Heartbeat) -> int:
        return len(heartbeat.faults or [])


@admin.register(Alert)
class AlertAdmin(ViewOnlyFleetAdmin):
    change_form_template = "admin/centeros/change_form.html"
    list_display = (
        "id",
        "robot",
        "code",
        "severity",
        "status",
        "source",
        "occurrences",
        "last_seen_at",
    )
    list_filter = ("status", "severity", "source", scoped_org_filter())
    search_fields = ("robot__robot_id", "code", "message")
    list_select_related = ("robot",)
    readonly_fields = (
        "org",
        "robot",
        "code",
        "source",
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
    actions = ("acknowledge_alerts", "resolve_alerts")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if alert is not None:
            granted = scopes_in_org(request, alert.org_id)
            tools = []
            if (
                alert.status == AlertStatus.OPEN
                and set(action_scopes("acknowledge_alert")) <= granted
            ):
                tools.append({"action": "acknowledge_alerts", "label": "Acknowledge"})
            if (
                alert.status == AlertStatus.ACKNOWLEDGED
                and set(action_scopes("resolve_alert")) <= granted
            ):
                tools.append({"action": "resolve_alerts", "label": "Resolve"})
            extra_context["object_tools"] = tools
        return super().change_view(request, object_id, form_url, extra_context)

    def _run_each(self, request, queryset, *, api_action, service, done):
        outcomes = [
            run_operation(
                request,
                action=api_action,
                org=alert.org,
                params={"alert_id": alert.pk},
                call=lambda alert=alert: service(
                    org=alert.org, alert_id=alert.pk, user=request.user
                ),
            )
            for alert in queryset.select_related("org")
        ]
        report_outcomes(self, request, outcomes, done)
        if len(outcomes) == 1:
            return HttpResponseRedirect(
                reverse("admin:fleet_alert_change", args=[queryset.first().pk])
            )
        return None

    @service_action(
        api_action="acknowledge_alert", description="Acknowledge the selected alerts"
    )
    def acknowledge_alerts(self, request, queryset):
        return self._run_each(
            request,
            queryset,
            api_action="acknowledge_alert",
            service=services.alert_acknowledge,
            done="Acknowledged {count} alert(s).",
        )

    @service_action(
        api_action="resolve_alert", description="Resolve the selected alerts"
    )
    def resolve_alerts(self, request, queryset):
        return self._run_each(
            request,
            queryset,
            api_action="resolve_alert",
            service=services.alert_resolve,
            done="Resolved {count} alert(s).",
        )
