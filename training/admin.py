"""Admin of training jobs: browse jobs, follow progress, cancel."""

from django.contrib import admin, messages

from centeros.errors import DomainError
from training import services
from training.models import TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "org",
        "status",
        "model_type",
        "mode",
        "progress",
        "current_epoch",
        "total_epochs",
        "executor",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "model_type", "mode", "executor", "org")
    search_fields = ("id", "name", "org__name", "org__slug", "base_model")
    list_select_related = ("org",)
    date_hierarchy = "created_at"
    filter_horizontal = ("datasets",)
    # The state machine, the worker's reports and the artifact change only
    # through the services, never by editing the row.
    readonly_fields = (
        "id",
        "status",
        "progress",
        "current_epoch",
        "total_epochs",
        "metrics",
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
    actions = ("cancel_jobs",)

    @admin.action(description="Cancel the selected training jobs")
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        for job in queryset.select_related("org"):
            try:
                services.training_job_cancel(org=job.org, job_id=job.pk)
            except DomainError as error:
                self.message_user(request, error.detail, level=messages.WARNING)
                continue
            cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} training job(s).")
