"""Admin pages of annotation tasks and reviews.

Status and review history change only through the services (assign, submit,
review), so the admin shows them read-only.
"""

from django.contrib import admin

from annotations.models import AnnotationReview, AnnotationTask


class AnnotationReviewInline(admin.TabularInline):
    model = AnnotationReview
    extra = 0
    can_delete = False
    fields = ("decision", "reviewer", "comment", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(admin.ModelAdmin):
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
    list_filter = ("status", "priority", "data_type", "org")
    search_fields = ("title", "description", "assignee__username", "dataset__name")
    list_select_related = ("org", "assignee", "dataset")
    raw_id_fields = ("dataset", "assignee", "created_by")
    readonly_fields = ("status", "submitted_at", "created_at", "updated_at")
    date_hierarchy = "created_at"
    inlines = [AnnotationReviewInline]


@admin.register(AnnotationReview)
class AnnotationReviewAdmin(admin.ModelAdmin):
    """Reviews are a record of decisions: listed and searchable, never edited."""

    list_display = ("id", "task", "decision", "reviewer", "created_at")
    list_filter = ("decision",)
    search_fields = ("task__title", "comment", "reviewer__username")
    list_select_related = ("task", "reviewer")
    readonly_fields = ("task", "reviewer", "decision", "comment", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
