"""Operator view of datasets in the Django admin.

Datasets are created and uploaded through the API, so the admin does not
add them, and the fields that the upload flow and the state machine own
are read-only. Deleting goes through the same service as delete_dataset:
the registered guards can block it, and the stored file is removed after
the deletion commits.
"""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat

from centeros.errors import DomainError
from datasets import services
from datasets.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "org",
        "file_type",
        "status",
        "size",
        "episode_count",
        "created_at",
    )
    list_filter = ("status", "file_type", "org", "created_at")
    search_fields = ("name", "description", "original_filename", "sha256")
    list_select_related = ("org",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "status",
        "file_type",
        "original_filename",
        "storage_key",
        "content_type",
        "size_bytes",
        "expected_sha256",
        "sha256",
        "uploaded_bytes",
        "metadata",
        "episode_count",
        "frame_count",
        "error",
        "created_by",
        "created_at",
        "updated_at",
        "uploaded_at",
        "ready_at",
    )

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, dataset: Dataset) -> str:
        if dataset.size_bytes is None:
            return "-"
        return filesizeformat(dataset.size_bytes)

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        # The organisation of an existing dataset never changes: its file
        # lives under that organisation's storage prefix.
        return (*self.readonly_fields, "org") if obj else self.readonly_fields

    def get_deleted_objects(self, objs, request):
        """List what blocks each dataset's delete as a protected object.

        The admin then refuses the delete on its confirmation page and
        shows the guards' sentences.
        """
        deleted, counts, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        for dataset in objs:
            protected.extend(services.dataset_deletion_blockers(dataset=dataset))
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj: Dataset) -> None:
        try:
            services.dataset_delete(dataset=obj)
        except DomainError as error:
            self.message_user(request, error.detail, level=messages.ERROR)

    def delete_queryset(self, request, queryset) -> None:
        for dataset in queryset:
            self.delete_model(request, dataset)
