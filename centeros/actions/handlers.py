"""The one exception handler that renders every API error as the envelope.

Every error body is ``{"ok": false, "detail": "<sentence>", "code": "..."}``,
with ``errors`` for validation failures and ``request_id`` for server errors.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from centeros.errors import DomainError

logger = logging.getLogger(__name__)


def error_response(
    status_code: int,
    detail: str,
    *,
    code: str,
    errors: dict | None = None,
    headers: dict | None = None,
    request_id: str | None = None,
) -> Response:
    body = {"ok": False, "detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    if request_id:
        body["request_id"] = request_id
    return Response(body, status=status_code, headers=headers)


def validation_errors(detail) -> dict[str, list[str]]:
    """Flatten DRF's nested validation detail into ``{field: [messages]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and value and not isinstance(value[0], str):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]" if prefix else str(index), item)
        elif isinstance(value, list):
            flat.setdefault(prefix or "params", []).extend(str(v) for v in value)
        else:
            flat.setdefault(prefix or "params", []).append(str(value))

    walk("", detail)
    return flat


def describe_validation(errors: dict[str, list[str]]) -> str:
    """Return one sentence naming the first invalid field and its problem."""
    field, messages = next(iter(errors.items()))
    if field in ("params", "non_field_errors"):
        return messages[0]
    more = f" ({len(errors) - 1} more field errors)" if len(errors) > 1 else ""
    return f"Invalid parameter '{field}': {messages[0]}{more}"


def api_exception_handler(exc, context):
    request = context.get("request")
    request_id = getattr(request, "request_id", None)

    if isinstance(exc, RequestDataTooBig):
        return error_response(
            413,
            "The request body is larger than the server accepts for this "
            "endpoint; upload files through a signed upload URL instead.",
            code="payload_too_large",
        )
    if isinstance(exc, DomainError):
        return error_response(
            exc.status_code, exc.detail, code=exc.code, errors=exc.errors
        )
    if isinstance(exc, Http404):
        return error_response(404, "Not found.", code="not_found")
    if isinstance(exc, exceptions.ValidationError):
        errors = validation_errors(exc.detail)
        return error_response(
            400, describe_validation(errors), code="invalid", errors=errors
        )
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(
            exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed
        ):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
            status_code = 401
        else:
            status_code = exc.status_code
        detail = exc.detail
        if isinstance(detail, dict | list):
            errors = validation_errors(detail)
            detail = describe_validation(errors)
        code = exc.get_codes()
        if not isinstance(code, str):
            code = exc.default_code
        return error_response(status_code, str(detail), code=code, headers=headers)

    # The handler is called from DRF's except block, so exc_info is the
    # error being handled.
    logger.error(
        "Unhandled error in %s (request %s)",
        getattr(request, "path", "?"),
        request_id,
        exc_info=exc,
    )
    return error_response(
        500,
        "Internal server error. Quote the request id when you report it.",
        code="server_error",
        request_id=request_id,
    )
