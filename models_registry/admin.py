"""Admin pages of model versions, their transition history and evaluations.

Statuses are read-only here: they change only through the services, which
check the lifecycle and record every transition. Promotion runs the same
service as promote_model, with the reason entered on a form page.
"""

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from centeros.admin_mixins import (
    OrgScopedAdminMixin,
    action_scopes,
    intermediate_page,
    report_outcomes,
    run_operation,
    scoped_org_filter,
    scopes_in_org,
    service_action,
)
from models_registry import selectors, services
from models_registry.choices import ModelStatus
from models_registry.models import Evaluation, ModelVersion


class PromoteForm(forms.Form):
    target_status = forms.ChoiceField(
        choices=[
            (status, label)
            for status, label in ModelStatus.choices
            if status != ModelStatus.DRAFT
        ],
        help_text="The lifecycle is draft → validated → deployed → retired; "
        "validated may also go straight to retired.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Why the version moves; it is kept in the version's history.",
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "models"
    change_form_template = "admin/centeros/change_form.html"
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
    list_filter = ("status", "model_type", scoped_org_filter(), "created_at")
    search_fields = ("name", "description", "artifact_uri")
    list_select_related = ("org", "training_job", "created_by")
    readonly_fields = (
        "org",
        "name",
        "version",
        "status",
        "model_type",
        "training_job",
        "artifact_uri",
        "artifact_sha256",
        "artifact_size",
        "metrics",
        "created_by",
        "created_at",
        "updated_at",
    )
    actions = ("promote_versions",)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if version is not None:
            lineage = selectors.model_version_lineage(
                org=version.org, model_version_id=version.pk
            )
            granted = scopes_in_org(request, version.org_id)
            tools = []
            if (
                ModelVersion.ALLOWED_TRANSITIONS[version.status]
                and set(action_scopes("promote_model")) <= granted
            ):
                tools.append({"action": "promote_versions", "label": "Promote"})
            extra_context |= {
                "object_tools": tools,
                "panel_template": "admin/models_registry/modelversion/lineage_panel.html",
                "lineage": lineage,
                "job": lineage.training_job,
                "job_datasets": list(lineage.training_job.datasets.all())
                if lineage.training_job
                else [],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @service_action(
        api_action="promote_model",
        description="Promote the selected versions (with a reason)",
    )
    def promote_versions(self, request, queryset):
        form = PromoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            target = form.cleaned_data["target_status"]
            reason = form.cleaned_data["reason"]
            outcomes = [
                run_operation(
                    request,
                    action="promote_model",
                    org=version.org,
                    params={
                        "model_id": version.pk,
                        "target_status": target,
                        "reason": reason,
                    },
                    call=lambda version=version: services.model_version_promote(
                        org=version.org,
                        model_version_id=version.pk,
                        target_status=target,
                        user=request.user,
                        reason=reason,
                    ),
                )
                for version in queryset.select_related("org")
            ]
            report_outcomes(
                self, request, outcomes, f"Moved {{count}} version(s) to {target}."
            )
            if len(outcomes) == 1:
                return HttpResponseRedirect(
                    reverse(
                        "admin:models_registry_modelversion_change",
                        args=[queryset.first().pk],
                    )
                )
            return None

        return intermediate_page(
            self,
            request,
            queryset,
            action_name="promote_versions",
            title="Promote model versions",
            intro="Each version moves only if its lifecycle allows the move.",
            form=form,
            submit_label="Promote",
            object_lines=[
                f"{version} ({version.status}) in {version.org}"
                for version in queryset.select_related("org")
            ],
        )


@admin.register(Evaluation)
class EvaluationAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "models"
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
    list_filter = ("status", "passed", scoped_org_filter())
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
