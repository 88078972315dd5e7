"""Domain errors that services raise and the action layer turns into responses.

Services and state machines raise these instead of HTTP-aware exceptions, so
the admin, the actions and management commands can share one set of rules.
Each error carries the HTTP status of the action layer's response, a
stable snake-case ``code`` and a sentence meant for the person reading it.
"""


class DomainError(Exception):
    """Base class of the errors that the action layer reports to the caller."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
        keep_changes: bool = False,
    ):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.errors = errors
        # When true, the database changes made before the error are committed
        # (for example a dataset marked failed) although the caller gets an
        # error response.
        self.keep_changes = keep_changes


class InvalidInput(DomainError):
    """A parameter is missing or has a value the operation cannot use."""

    status_code = 400
    default_code = "invalid"


class AuthenticationFailed(DomainError):
    """The credentials are missing, invalid, expired or revoked."""

    status_code = 401
    default_code = "not_authenticated"


class PermissionDenied(DomainError):
    """The caller is authenticated but lacks a scope or the organisation."""

    status_code = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    """The object does not exist in the caller's organisation."""

    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    """A duplicate, or a transition that the current state does not allow."""

    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(DomainError):
    """An upload is larger than the configured maximum."""

    status_code = 413
    default_code = "payload_too_large"


class ServiceUnavailable(DomainError):
    """A backing service the operation needs is down."""

    status_code = 503
    default_code = "service_unavailable"
