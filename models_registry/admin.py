"""Admin pages of model versions, their transition history and evaluations.

Statuses are read-only here: they change only through the services, which
check the lifecycle and record every transition.
"""

from django.contrib import admin

from models_registry.models import Evaluation, ModelTransition, ModelVersion


class ModelTransitionInline(admin.TabularInline):
    """The recorded status changes of a version, shown read-only."""

    model = ModelTransition
    extra = 0
    can_delete = False
    fields = ("from_status", "to_status", "reason", "changed_by", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class EvaluationInline(admin.TabularInline):
    model = Evaluation
    extra = 0
    can_delete = False
    fields = ("name", "status", "passed", "environment", "completed_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "status",
        "model_type",
        "org",
        "training_job",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "model_type", "org")
    search_fields = ("name", "description", "artifact_uri")
    list_select_related = ("org", "training_job", "created_by")
    readonly_fields = (
        "org",
        "name",
        "version",
        "status",
        "training_job",
        "artifact_uri",
        "artifact_sha256",
        "artifact_size",
        "created_by",
        "created_at",
        "updated_at",
    )
    inlines = (ModelTransitionInline, EvaluationInline)

    def has_add_permission(self, request) -> bool:
        # The register_model action numbers versions and checks the training
        # job, and an add form here would bypass both.
        return False


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "model_version",
        "status",
        "passed",
        "environment",
        "org",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", "passed", "org")
    search_fields = ("name", "model_version__name", "environment", "notes")
    list_select_related = ("model_version", "org")
    readonly_fields = (
        "org",
        "model_version",
        "dataset",
        "status",
        "metrics",
        "passed",
        "created_by",
        "created_at",
        "completed_at",
    )

    def has_add_permission(self, request) -> bool:
        # Evaluations are created and completed through the evaluation
        # actions, which check the model version and the dataset.
        return False
