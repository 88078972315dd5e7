"""Admin of training jobs: follow progress and loss, launch and cancel.

Jobs are created through create_training_job, which checks the datasets,
the base model and the hyperparameters, so the admin adds none. Launch and
cancel run the same services as launch_training and cancel_training.
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from centeros.admin_charts import loss_curve_svg
from centeros.admin_mixins import (
    OrgScopedAdminMixin,
    action_scopes,
    report_outcomes,
    run_operation,
    scoped_org_filter,
    scopes_in_org,
    service_action,
)
from training import services
from training.choices import ACTIVE_STATUSES, JobStatus
from training.models import TrainingJob

CANCELLABLE_STATUSES = (JobStatus.PENDING, *ACTIVE_STATUSES)


@admin.register(TrainingJob)
class TrainingJobAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "training"
    change_form_template = "admin/centeros/change_form.html"
    list_display = (
        "id",
        "name",
        "org",
        "status",
        "model_type",
        "mode",
        "progress_percent",
        "epoch",
        "executor",
        "created_at",
        "finished_at",
    )
    list_filter = (
        "status",
        "model_type",
        "mode",
        "executor",
        scoped_org_filter(),
        "created_at",
    )
    search_fields = ("id", "name", "org__name", "org__slug", "base_model")
    list_select_related = ("org",)
    date_hierarchy = "created_at"
    # Only the name is editable: the specification was checked when the job
    # was created, and the state machine, the worker's reports and the
    # artifact change only through the services.
    readonly_fields = (
        "id",
        "org",
        "status",
        "model_type",
        "mode",
        "base_model",
        "dataset_list",
        "hyperparameters",
        "compute",
        "progress",
        "current_epoch",
        "total_epochs",
        "latest_metrics",
        "error",
        "logs",
        "artifact_key",
        "artifact_sha256",
        "artifact_size",
        "task_result_id",
        "cancel_requested",
        "heartbeat_at",
        "executor",
        "created_by",
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "name",
                    "org",
                    "status",
                    "progress",
                    "current_epoch",
                    "total_epochs",
                    "latest_metrics",
                    "error",
                )
            },
        ),
        (
            "Specification",
            {
                "fields": (
                    "model_type",
                    "mode",
                    "base_model",
                    "dataset_list",
                    "hyperparameters",
                    "compute",
                    "created_by",
                )
            },
        ),
        (
            "Timeline",
            {
                "fields": (
                    "created_at",
                    "queued_at",
                    "started_at",
                    "heartbeat_at",
                    "finished_at",
                    "cancel_requested",
                )
            },
        ),
        (
            "Artifact",
            {"fields": ("artifact_key", "artifact_sha256", "artifact_size")},
        ),
        (
            "Worker",
            {
                "classes": ("collapse",),
                "fields": ("executor", "task_result_id", "logs"),
            },
        ),
    )
    actions = ("launch_jobs", "cancel_jobs")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("logs")

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, job: TrainingJob) -> str:
        return f"{round(100 * job.progress)}%"

    @admin.display(description="epoch", ordering="current_epoch")
    def epoch(self, job: TrainingJob) -> str:
        if job.total_epochs:
            return f"{job.current_epoch} / {job.total_epochs}"
        return str(job.current_epoch)

    @admin.display(description="datasets")
    def dataset_list(self, job: TrainingJob) -> str:
        return ", ".join(
            f"{dataset.name} (#{dataset.pk}, {dataset.status})"
            for dataset in job.datasets.all()
        )

    # The change page: loss chart and operation buttons.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if job is not None:
            granted = scopes_in_org(request, job.org_id)
            tools = []
            if (
                job.status == JobStatus.PENDING
                and set(action_scopes("launch_training")) <= granted
            ):
                tools.append({"action": "launch_jobs", "label": "Launch"})
            if (
                job.status in CANCELLABLE_STATUSES
                and set(action_scopes("cancel_training")) <= granted
            ):
                tools.append(
                    {"action": "cancel_jobs", "label": "Cancel job", "danger": True}
                )
            extra_context |= {
                "object_tools": tools,
                "panel_template": "admin/training/trainingjob/loss_panel.html",
                "panel_first": True,
                "loss_chart": loss_curve_svg(job.metrics),
                "epochs": job.metrics[-50:],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # Operations

    def _run_each(self, request, queryset, *, api_action, service, done):
        outcomes = [
            run_operation(
                request,
                action=api_action,
                org=job.org,
                params={"job_id": job.pk},
                call=lambda job=job: service(org=job.org, job_id=job.pk),
            )
            for job in queryset.select_related("org")
        ]
        report_outcomes(self, request, outcomes, done)
        if queryset.count() == 1:
            job = queryset.first()
            return HttpResponseRedirect(
                reverse("admin:training_trainingjob_change", args=[job.pk])
            )
        return None

    @service_action(
        api_action="launch_training", description="Launch the selected pending jobs"
    )
    def launch_jobs(self, request, queryset):
        return self._run_each(
            request,
            queryset,
            api_action="launch_training",
            service=services.training_job_launch,
            done="Launched {count} training job(s); they are queued for a worker.",
        )

    @service_action(
        api_action="cancel_training", description="Cancel the selected training jobs"
    )
    def cancel_jobs(self, request, queryset):
        return self._run_each(
            request,
            queryset,
            api_action="cancel_training",
            service=services.training_job_cancel,
            done="Cancelled {count} training job(s).",
        )
