"""Client-side configuration: the server URL and the files kept per user.

Files live in ``$XDG_CONFIG_HOME/centeros`` (``~/.config/centeros`` when the
variable is unset):

- ``credentials.json``: the saved login (access and refresh token) per server
  URL, written with 0600 permissions because it contains credentials;
- ``uploads.json``: uploads that were started but not confirmed, so that a
  second run of the same upload reuses the pending dataset.

Every write goes to a temporary file that is renamed over the old one, so an
interrupted write never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from centeros.client.errors import ConfigError

logger = logging.getLogger(__name__)

API_URL_ENV = "CENTEROS_API_URL"
TOKEN_ENV = "CENTEROS_TOKEN"
DEFAULT_API_URL = "http://127.0.0.1:8000"

CREDENTIALS_FILE = "credentials.json"
UPLOADS_FILE = "uploads.json"


def normalize_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash, or raise ConfigError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"The API URL must be an http or https URL such as "
            f"{DEFAULT_API_URL}, got {url!r}. Set {API_URL_ENV} or pass "
            "--api-url."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"The API URL must not have a query or fragment, got {url!r}."
        )
    return url.rstrip("/")


def resolve_base_url(explicit: str | None = None) -> str:
    """Return the server URL: the argument, then CENTEROS_API_URL, then default."""
    return normalize_base_url(
        explicit or os.environ.get(API_URL_ENV) or DEFAULT_API_URL
    )


def config_dir() -> Path:
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "centeros"


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "centeros"


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o600) -> None:
    """Write ``data`` as JSON to ``path`` through a renamed temporary file.

    The temporary file is created with ``mode`` before any byte is written,
    so credentials are never readable by other users, not even briefly.
    """
    _ensure_private_dir(path.parent)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_json(path: Path) -> dict[str, Any]:
    """Return the JSON object in ``path``, or an empty dict if there is none.

    A file that is not a JSON object is reported and treated as empty, so a
    damaged file costs a new login rather than a crash.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        logger.warning("Ignoring %s: it is not valid JSON", path)
        return {}
    if not isinstance(data, dict):
        logger.warning("Ignoring %s: it is not a JSON object", path)
        return {}
    return data


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a lock file) while the block runs.

    Used around token refresh: refresh tokens rotate, so two processes that
    refresh with the same token at once would leave one of them logged out.
    Locking needs ``fcntl``; where it is missing (Windows) the block runs
    without a lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return

    _ensure_private_dir(path.parent)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


class CredentialStore:
    """The saved logins, one entry per server URL.

    An entry contains ``access_token``, ``refresh_token``, ``expires_at``
    (Unix time of the access token's expiry), ``user``, ``org``, ``role`` and
    ``scopes`` as the login response returned them.
    """

    def __init__(self, directory: Path | None = None):
        self.directory = directory or config_dir()
        self.path = self.directory / CREDENTIALS_FILE
        self.lock_path = self.directory / f".{CREDENTIALS_FILE}.lock"

    def _load(self) -> dict[str, Any]:
        self._tighten_permissions()
        data = read_json(self.path)
        servers = data.get("servers")
        return servers if isinstance(servers, dict) else {}

    def _tighten_permissions(self) -> None:
        # A credentials file readable by others was probably copied in by
        # hand; fix it rather than keep leaking the tokens.
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return
        if mode & 0o077:
            logger.warning(
                "%s had permissions %o; setting them to 600", self.path, mode
            )
            os.chmod(self.path, 0o600)

    def get(self, base_url: str) -> dict[str, Any] | None:
        entry = self._load().get(base_url)
        return entry if isinstance(entry, dict) else None

    def save(self, base_url: str, entry: dict[str, Any]) -> None:
        servers = self._load()
        servers[base_url] = entry
        write_json_atomic(self.path, {"servers": servers})

    def delete(self, base_url: str) -> bool:
        servers = self._load()
        if base_url not in servers:
            return False
        del servers[base_url]
        write_json_atomic(self.path, {"servers": servers})
        return True

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.lock_path)


def login_entry(body: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """Turn a login or refresh response into a credential entry."""
    now = time.time() if now is None else now
    expires_in = body.get("expires_in")
    expires_at = (
        now + float(expires_in) if isinstance(expires_in, int | float) else None
    )
    return {
        "access_token": body["access_token"],
        "refresh_token": body.get("refresh_token"),
        "expires_at": expires_at,
        "user": body.get("user"),
        "org": body.get("org"),
        "role": body.get("role"),
        "scopes": body.get("scopes"),
        "saved_at": now,
    }


class PendingUploads:
    """Uploads that have a dataset on the server but no confirmation yet.

    The key is the server URL, the file's resolved path, its size and its
    modification time in nanoseconds, so a changed file never reuses the
    dataset of its older version.
    """

    def __init__(self, directory: Path | None = None):
        self.directory = directory or config_dir()
        self.path = self.directory / UPLOADS_FILE

    @staticmethod
    def key(base_url: str, path: Path, size: int, mtime_ns: int) -> str:
        return f"{base_url}|{path.resolve()}|{size}|{mtime_ns}"

    def get(self, key: str) -> dict[str, Any] | None:
        entry = read_json(self.path).get(key)
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        data = read_json(self.path)
        data[key] = entry
        write_json_atomic(self.path, data)

    def delete(self, key: str) -> None:
        data = read_json(self.path)
        if data.pop(key, None) is not None:
            write_json_atomic(self.path, data)
