"""Admin pages of annotation tasks and reviews.

Status, assignee and review history change only through the services
(assign, submit, review), so the admin shows them read-only. Approving or
rejecting work runs the same service as review_task, with the comment
entered on a form page.
"""

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from annotations import services
from annotations.choices import ReviewDecision, TaskStatus
from annotations.models import AnnotationReview, AnnotationTask
from centeros.admin_mixins import (
    OrgScopedAdminMixin,
    ScopedInlineMixin,
    action_scopes,
    intermediate_page,
    report_outcomes,
    run_operation,
    scoped_org_filter,
    scopes_in_org,
    service_action,
)


class AnnotationReviewInline(ScopedInlineMixin, admin.TabularInline):
    model = AnnotationReview
    scope_area = "annotations"
    fields = ("decision", "reviewer", "comment", "created_at")
    readonly_fields = fields


class ReviewForm(forms.Form):
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when rejecting: say what to fix.",
    )


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "annotations"
    change_form_template = "admin/centeros/change_form.html"
    list_display = (
        "id",
        "title",
        "org",
        "status",
        "priority",
        "data_type",
        "assignee",
        "dataset",
        "created_at",
    )
    list_filter = ("status", "priority", "data_type", scoped_org_filter(), "created_at")
    search_fields = ("title", "description", "assignee__username", "dataset__name")
    list_select_related = ("org", "assignee", "dataset")
    readonly_fields = (
        "org",
        "status",
        "assignee",
        "created_by",
        "submitted_at",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"
    inlines = [AnnotationReviewInline]
    actions = ("approve_tasks", "reject_tasks")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        task = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if task is not None:
            tools = []
            if task.status == TaskStatus.IN_REVIEW and set(
                action_scopes("review_task")
            ) <= scopes_in_org(request, task.org_id):
                tools = [
                    {"action": "approve_tasks", "label": "Approve"},
                    {"action": "reject_tasks", "label": "Reject", "danger": True},
                ]
            extra_context["object_tools"] = tools
        return super().change_view(request, object_id, form_url, extra_context)

    def _review(self, request, queryset, *, decision: str, action_name: str):
        tasks = list(queryset.select_related("org", "assignee"))
        form = ReviewForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            comment = form.cleaned_data["comment"]
            outcomes = [
                run_operation(
                    request,
                    action="review_task",
                    org=task.org,
                    params={
                        "task_id": task.pk,
                        "decision": decision,
                        "comment": comment,
                    },
                    call=lambda task=task: services.annotation_task_review(
                        org=task.org,
                        task_id=task.pk,
                        reviewer=request.user,
                        decision=decision,
                        comment=comment,
                    ),
                )
                for task in tasks
            ]
            report_outcomes(
                self, request, outcomes, f"Marked {{count}} task(s) {decision}."
            )
            if len(tasks) == 1:
                return HttpResponseRedirect(
                    reverse(
                        "admin:annotations_annotationtask_change", args=[tasks[0].pk]
                    )
                )
            return None

        verb = "Approve" if decision == ReviewDecision.APPROVED else "Reject"
        return intermediate_page(
            self,
            request,
            queryset,
            action_name=action_name,
            title=f"{verb} annotation work",
            intro="Only tasks in review can be approved or rejected; a rejected "
            "task goes back to its annotator for rework.",
            form=form,
            submit_label=verb,
            danger=decision == ReviewDecision.REJECTED,
            object_lines=[
                f"{task.title} ({task.status}, by {task.assignee or 'nobody'})"
                for task in tasks
            ],
        )

    @service_action(
        api_action="review_task", description="Approve the selected tasks in review"
    )
    def approve_tasks(self, request, queryset):
        return self._review(
            request,
            queryset,
            decision=ReviewDecision.APPROVED,
            action_name="approve_tasks",
        )

    @service_action(
        api_action="review_task", description="Reject the selected tasks in review"
    )
    def reject_tasks(self, request, queryset):
        return self._review(
            request,
            queryset,
            decision=ReviewDecision.REJECTED,
            action_name="reject_tasks",
        )


@admin.register(AnnotationReview)
class AnnotationReviewAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Reviews are a record of decisions: listed and searchable, never edited."""

    scope_area = "annotations"
    org_lookup = "task__org"
    change_enabled = False
    list_display = ("id", "task", "decision", "reviewer", "created_at")
    list_filter = ("decision", scoped_org_filter("task__org"), "created_at")
    search_fields = ("task__title", "comment", "reviewer__username")
    list_select_related = ("task", "reviewer")
    readonly_fields = ("task", "reviewer", "decision", "comment", "created_at")
