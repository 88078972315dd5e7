"""Python client of the CenterOS REST API; it imports no server code.

from centeros.client import CenterOSClient

client = CenterOSClient()  # CENTEROS_API_URL, CENTEROS_TOKEN or saved login
datasets = client.call("list_datasets", {"limit": 20})
"""

from centeros.client.api import ActionResult, CenterOSClient, TokenSource
from centeros.client.config import (
    API_URL_ENV,
    DEFAULT_API_URL,
    TOKEN_ENV,
    CredentialStore,
    PendingUploads,
)
from centeros.client.errors import (
    APIError,
    BadRequest,
    CenterOSError,
    ConfigError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
)
from centeros.client.uploads import UploadResult

__all__ = [
    "API_URL_ENV",
    "APIError",
    "ActionResult",
    "BadRequest",
    "CenterOSClient",
    "CenterOSError",
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "CredentialStore",
    "DEFAULT_API_URL",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PendingUploads",
    "RateLimited",
    "ServerError",
    "TOKEN_ENV",
    "TokenSource",
    "Unauthorized",
    "UploadResult",
]
