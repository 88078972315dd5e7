"""Operator view of datasets in the Django admin.

Datasets are created and uploaded through the API, so the admin does not
add them, and the fields that the upload flow and the state machine own
are read-only. Deleting goes through the same service as delete_dataset:
the registered guards can block it, and the stored file is removed after
the deletion commits.
"""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat

from centeros.admin_mixins import OrgScopedAdminMixin, scoped_org_filter
from centeros.errors import DomainError
from datasets import services
from datasets.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "datasets"
    delete_enabled = True
    change_form_template = "admin/centeros/change_form.html"
    list_display = (
        "name",
        "org",
        "file_type",
        "status",
        "size",
        "episode_count",
        "created_at",
    )
    list_filter = ("status", "file_type", scoped_org_filter(), "created_at")
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
        "episode_count",
        "frame_count",
        "error",
        "created_by",
        "created_at",
        "updated_at",
        "uploaded_at",
        "ready_at",
    )
    exclude = ("metadata",)

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, dataset: Dataset) -> str:
        if dataset.size_bytes is None:
            return "-"
        return filesizeformat(dataset.size_bytes)

    def get_queryset(self, request):
        # The inspected metadata can be large; only the change page reads it.
        queryset = super().get_queryset(request)
        url_name = request.resolver_match.url_name if request.resolver_match else ""
        if (url_name or "").endswith("changelist"):
            queryset = queryset.defer("metadata")
        return queryset

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if dataset is not None:
            extra_context |= {
                "panel_template": "admin/datasets/dataset/metadata_panel.html",
                "inspection": inspection_summary(dataset),
            }
        return super().change_view(request, object_id, form_url, extra_context)

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


# Rows shown on the change page; the full lists stay in the stored metadata.
SHOWN_KEYS = 200
SHOWN_EPISODES = 50


def inspection_summary(dataset: Dataset) -> dict:
    """Return the inspected metadata of a dataset in the shape the page shows.

    Values missing from the metadata (older inspections, unknown formats)
    are None and shown as a dash.
    """
    metadata = dataset.metadata if isinstance(dataset.metadata, dict) else {}
    keys = metadata.get("keys") or []
    topics = metadata.get("topics") or []
    episode_frames = metadata.get("episode_frames") or []
    facts = [
        ("Format", metadata.get("format")),
        ("Layout", metadata.get("layout")),
        ("Episodes", metadata.get("episodes", dataset.episode_count)),
        ("Frames", metadata.get("frames", dataset.frame_count)),
        ("Duration (s)", metadata.get("duration_s")),
        ("Frames per second", metadata.get("fps")),
        ("Action dimension", metadata.get("action_dim")),
        ("Observation dimension", metadata.get("observation_dim")),
        ("Robot", metadata.get("robot")),
    ]
    return {
        "has_metadata": bool(metadata),
        "facts": facts,
        "keys": [
            {
                "name": key.get("name"),
                "shape": "x".join(str(n) for n in key.get("shape") or []) or "scalar",
                "dtype": key.get("dtype"),
            }
            for key in keys[:SHOWN_KEYS]
            if isinstance(key, dict)
        ],
        "keys_total": len(keys),
        "topics": [topic for topic in topics[:SHOWN_KEYS] if isinstance(topic, dict)],
        "topics_total": len(topics),
        "episode_frames": list(enumerate(episode_frames[:SHOWN_EPISODES])),
        "episodes_total": len(episode_frames),
        "declared": metadata.get("declared") or {},
        "extra": metadata.get("extra") or {},
    }
