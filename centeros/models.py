"""The audit log of every POST action."""

from django.conf import settings
from django.db import models


class AuditLogEntry(models.Model):
    """One POST to the action layer: who ran what, with which outcome."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    org = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    token_kind = models.CharField(max_length=8, blank=True)
    token_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    source = models.CharField(
        max_length=16, default="api", help_text="api, admin or command"
    )
    params = models.JSONField(default=dict, blank=True)
    status_code = models.PositiveSmallIntegerField(db_index=True)
    detail = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["org", "-created_at"])]

    def __str__(self) -> str:
        return (
            f"{self.action} {self.status_code} at {self.created_at:%Y-%m-%d %H:%M:%S}"
        )
