"""The audit log in the admin: read-only, filterable, scoped to organisations."""

from django.contrib import admin

from centeros.admin_mixins import (
    AUDIT_READ_SCOPE,
    OrgScopedAdminMixin,
    scoped_org_filter,
)
from centeros.models import AuditLogEntry


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Every POST action and admin operation, read-only for every user.

    Entries without an organisation (failed sign-ins, unknown tokens) are
    visible to superusers only.
    """

    scope_area = "stats"
    change_enabled = False
    list_display = (
        "created_at",
        "action",
        "status_code",
        "source",
        "org",
        "user",
        "token_kind",
        "duration_ms",
        "client_ip",
    )
    list_filter = (
        scoped_org_filter(),
        "source",
        "status_code",
        "action",
        ("user", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("action", "detail", "request_id", "user__username")
    list_select_related = ("org", "user")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditLogEntry._meta.fields]

    @property
    def read_scope(self) -> str:
        return AUDIT_READ_SCOPE
