"""Exceptions raised by the CenterOS HTTP client, one class per HTTP status.

Every error response of the API has the envelope
``{"ok": false, "detail": "...", "code": "...", "errors": {field: [...]}}``;
the exception carries those fields so callers can branch on ``code`` or show
``detail`` as it is.
"""

from __future__ import annotations

from typing import Any


class CenterOSError(Exception):
    """Base class of every error raised by the client."""


class ConfigError(CenterOSError):
    """The client configuration (URL, token, files) is invalid."""


class ConnectionFailed(CenterOSError):
    """The server could not be reached, or the connection broke mid-request.

    ``maybe_sent`` is True when the connection was open, so the server may
    have received and applied the request before it broke.
    """

    def __init__(self, base_url: str, reason: str, *, maybe_sent: bool = False):
        self.base_url = base_url
        self.reason = reason
        self.maybe_sent = maybe_sent
        if maybe_sent:
            message = (
                f"The connection to the CenterOS server at {base_url} failed "
                f"during the request ({reason}). The server may have applied it, "
                "so check the result before repeating a change."
            )
        else:
            message = (
                f"Could not reach the CenterOS server at {base_url} ({reason}). "
                "Check that the server is running, or set CENTEROS_API_URL to "
                "its address."
            )
        super().__init__(message)


class APIError(CenterOSError):
    """An error response of the API.

    ``status`` is the HTTP status, ``detail`` the server's sentence, ``code``
    its stable snake-case code and ``errors`` the per-field messages of a
    validation error (empty otherwise).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        code: str = "",
        errors: dict[str, list[str]] | None = None,
        *,
        request_id: str = "",
        retry_after: float | None = None,
    ):
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors or {}
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(detail)

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


class BadRequest(APIError):
    """400: a missing or invalid parameter."""


class Unauthorized(APIError):
    """401: the token is missing, invalid, expired or revoked."""


class Forbidden(APIError):
    """403: a scope is not granted, or another organisation was named."""


class NotFound(APIError):
    """404: an unknown action, or a resource that does not exist."""


class Conflict(APIError):
    """409: a duplicate, or a transition the current state does not allow."""


class PayloadTooLarge(APIError):
    """413: the upload exceeds the server's maximum size."""


class RateLimited(APIError):
    """429: too many requests; ``retry_after`` is in seconds when known."""


class ServerError(APIError):
    """5xx: the server failed; ``request_id`` identifies it in the server log."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_for_status(status: int, body: Any, **extra: Any) -> APIError:
    """Build the exception for an error response from its status and body.

    ``body`` is the decoded JSON envelope, or the raw text when the response
    was not JSON (a proxy's error page, for example).
    """
    if isinstance(body, dict):
        detail = str(body.get("detail") or f"The server returned HTTP {status}.")
        code = str(body.get("code") or "")
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    else:
        text = " ".join(str(body or "").split())[:200]
        detail = f"The server returned HTTP {status}" + (f": {text}" if text else ".")
        code = ""
        errors = None

    if status >= 500:
        error_class: type[APIError] = ServerError
    else:
        error_class = _BY_STATUS.get(status, APIError)
    return error_class(status, detail, code, errors, **extra)
