"""The Dataset model: one recorded file (or archive) and what is inside it."""

from django.conf import settings
from django.db import models

from centeros.errors import Conflict
from datasets.choices import DatasetFileType, DatasetStatus
from orgs.querysets import OrgScopedManager


class Dataset(models.Model):
    """A robotics dataset file owned by an organisation.

    Status moves ``pending_upload`` → ``processing`` → ``ready`` | ``failed``;
    only ready datasets can be used for training.
    """

    ALLOWED_TRANSITIONS = {
        DatasetStatus.PENDING_UPLOAD: {DatasetStatus.PROCESSING, DatasetStatus.FAILED},
        DatasetStatus.PROCESSING: {DatasetStatus.READY, DatasetStatus.FAILED},
        DatasetStatus.FAILED: {DatasetStatus.PENDING_UPLOAD},
        DatasetStatus.READY: set(),
    }

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="datasets"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    file_type = models.CharField(
        max_length=16, choices=DatasetFileType.choices, default=DatasetFileType.OTHER
    )
    status = models.CharField(
        max_length=20,
        choices=DatasetStatus.choices,
        default=DatasetStatus.PENDING_UPLOAD,
        db_index=True,
    )
    original_filename = models.CharField(max_length=255, blank=True)
    storage_key = models.CharField(max_length=500, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(
        null=True, blank=True, help_text="Declared size of the upload, in bytes."
    )
    expected_sha256 = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the stored file."
    )
    uploaded_bytes = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    episode_count = models.IntegerField(null=True, blank=True)
    frame_count = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["org", "status"]),
            models.Index(fields=["org", "file_type"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def transition_to(self, target: str) -> None:
        """Move to ``target`` or raise Conflict when the move is not allowed."""
        if target not in self.ALLOWED_TRANSITIONS.get(self.status, set()):
            raise Conflict(
                f"Dataset {self.pk} is {self.status}; it cannot become {target}.",
                code="invalid_transition",
            )
        self.status = target
