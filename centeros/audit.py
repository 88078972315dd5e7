"""Writing audit log entries, with secrets redacted from the params."""

import logging
import re

from django.db import transaction

from centeros.models import AuditLogEntry

logger = logging.getLogger(__name__)

SECRET_KEY_PATTERN = re.compile(
    r"password|passwd|secret|token|signature|credential|authorization|bearer"
    r"|api_?key|private_?key|ssh_?key|access_?key",
    re.I,
)
REDACTED = "[redacted]"
MAX_PARAM_TEXT = 2000


def _storable_text(text: str) -> str:
    # PostgreSQL's jsonb rejects NUL characters and lone surrogates, which a
    # client can still send as JSON escapes; replace them so the entry is kept.
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def redact(value):
    """Return a copy of ``value`` with secret-looking keys and long text cut."""
    if isinstance(value, dict):
        return {
            _storable_text(str(key)): (
                REDACTED if SECRET_KEY_PATTERN.search(str(key)) else redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value[:100]]
    if isinstance(value, str):
        if len(value) > MAX_PARAM_TEXT:
            value = value[:MAX_PARAM_TEXT] + "..."
        return _storable_text(value)
    return value


def audit_record(
    *,
    action: str,
    status_code: int,
    params=None,
    org=None,
    user=None,
    token_kind: str = "",
    token_id: str | None = "",
    detail: str = "",
    duration_ms: int = 0,
    client_ip: str | None = None,
    request_id: str = "",
    source: str = "api",
) -> AuditLogEntry | None:
    """Write one audit entry; a failure to write is logged, never raised."""
    if user is not None and not getattr(user, "pk", None):
        user = None
    try:
        # A savepoint, so a failed write cannot break an enclosing transaction.
        with transaction.atomic():
            return AuditLogEntry.objects.create(
                action=_storable_text(action[:100]),
                status_code=status_code,
                params=redact(params if isinstance(params, dict) else {}),
                org=org,
                user=user,
                token_kind=token_kind,
                token_id=token_id or "",
                detail=_storable_text(detail[:2000]),
                duration_ms=duration_ms,
                client_ip=client_ip,
                request_id=request_id,
                source=source,
            )
    except Exception:
        logger.exception(
            "Could not write the audit entry for %s (request %s)", action, request_id
        )
        return None
