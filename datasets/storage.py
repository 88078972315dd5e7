"""Storage of dataset files, and the signed uploads that put them there.

Services talk to an :class:`UploadBackend`: it signs an upload URL bound to
one storage key, an exact size and an expiry, and it reads, checks and
deletes stored objects. ``get_upload_backend()`` picks the backend named by
``settings.CENTEROS_UPLOAD_BACKEND``, which follows
``CENTEROS_STORAGE_BACKEND``. :class:`LocalUploadBackend` stores files
through Django's default storage and signs URLs of the platform's own
``PUT /api/uploads/<token>`` and ``GET /api/downloads/<token>`` endpoints.
The S3 and Google Cloud Storage backends in ``datasets.cloud_storage`` sign
URLs of the store itself, so file bytes never pass through the platform.
"""

import dataclasses
import hashlib
import logging
import os
import posixpath
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Namespaced so that no other signed value of the platform can be replayed
# as an upload token, and an upload token as nothing else.
UPLOAD_TOKEN_SALT = "centeros.datasets.upload"
DOWNLOAD_TOKEN_SALT = "centeros.datasets.download"

# Chunk size for streaming uploads and checksums: large enough to keep the
# number of system calls low, small enough to keep memory flat.
CHUNK_SIZE = 4 * 1024 * 1024

DEFAULT_BACKEND = "local"


class UploadTokenError(Exception):
    """The upload token is malformed, tampered with or expired."""


class DownloadTokenError(Exception):
    """The download token is malformed, tampered with or expired."""


@dataclasses.dataclass(frozen=True)
class UploadGrant:
    """Permission of a signed upload token: one object, one size, until a time.

    ``expires_at`` is a Unix timestamp in seconds.
    """

    dataset_id: int
    key: str
    size: int
    expires_at: int


def upload_token_sign(grant: UploadGrant) -> str:
    """Return the signed, URL-safe token that carries ``grant``."""
    payload = {
        "d": grant.dataset_id,
        "k": grant.key,
        "s": grant.size,
        "e": grant.expires_at,
    }
    return signing.dumps(payload, salt=UPLOAD_TOKEN_SALT, compress=True)


def upload_token_read(token: str, *, now: float | None = None) -> UploadGrant:
    """Return the grant inside ``token``.

    Raises UploadTokenError when the signature does not verify (a tampered
    or foreign token) or the grant has expired. The signature is checked
    with SECRET_KEY and its fallbacks, so rotating the key keeps URLs valid
    until they expire.
    """
    try:
        payload = signing.loads(token, salt=UPLOAD_TOKEN_SALT)
    except signing.BadSignature:
        raise UploadTokenError(
            "The upload URL is not valid; request a new one with get_upload_signed_url."
        )

    try:
        grant = UploadGrant(
            dataset_id=int(payload["d"]),
            key=str(payload["k"]),
            size=int(payload["s"]),
            expires_at=int(payload["e"]),
        )
    except (KeyError, TypeError, ValueError):
        raise UploadTokenError(
            "The upload URL is not valid; request a new one with get_upload_signed_url."
        )

    current = time.time() if now is None else now
    if grant.expires_at <= current:
        expired = datetime.fromtimestamp(grant.expires_at, tz=UTC).isoformat()
        raise UploadTokenError(
            f"The upload URL expired at {expired}; request a new one with "
            "get_upload_signed_url."
        )
    return grant


@dataclasses.dataclass(frozen=True)
class DownloadGrant:
    """Permission carried by a signed download token: one object, until a time.

    ``expires_at`` is a Unix timestamp in seconds.
    """

    key: str
    expires_at: int


def download_token_sign(grant: DownloadGrant) -> str:
    """Return the signed, URL-safe token that carries ``grant``."""
    payload = {"k": grant.key, "e": grant.expires_at}
    return signing.dumps(payload, salt=DOWNLOAD_TOKEN_SALT, compress=True)


def download_token_read(token: str, *, now: float | None = None) -> DownloadGrant:
    """Return the grant inside ``token``.

    Raises DownloadTokenError when the signature does not verify or the
    grant has expired. SECRET_KEY_FALLBACKS are accepted, as for uploads.
    """
    invalid = "The download URL is not valid; request a new one."
    try:
        payload = signing.loads(token, salt=DOWNLOAD_TOKEN_SALT)
        grant = DownloadGrant(key=str(payload["k"]), expires_at=int(payload["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DownloadTokenError(invalid)

    current = time.time() if now is None else now
    if grant.expires_at <= current:
        expired = datetime.fromtimestamp(grant.expires_at, tz=UTC).isoformat()
        raise DownloadTokenError(
            f"The download URL expired at {expired}; request a new one."
        )
    return grant


class UploadBackend:
    """Interface of a store that accepts direct uploads of dataset files.

    Keys are relative POSIX paths such as
    ``datasets/<org_id>/<dataset_id>/<uuid>/<file name>``.
    """

    name = ""

    def signed_upload(
        self,
        *,
        key: str,
        size: int,
        content_type: str,
        expires_in: int,
        dataset_id: int,
        sha256: str = "",
    ) -> dict:
        """Sign a PUT of exactly ``size`` bytes to ``key``.

        Returns ``{"url", "method", "headers", "expires_at"}``, where
        ``headers`` are the headers the client must send and ``expires_at``
        is an aware datetime. ``dataset_id`` identifies the upload to
        backends that route it through the platform. A backend whose store
        verifies checksums binds the upload to ``sha256`` (hex) when given.
        """
        raise NotImplementedError

    def signed_download_url(self, key: str, *, expires_in: int) -> str:
        """Return a URL that GETs the object at ``key`` for ``expires_in`` seconds.

        Anyone holding the URL can read the object until it expires, so
        hand it only to callers allowed to read the object, and never log it.
        """
        raise NotImplementedError

    def object_size(self, key: str) -> int | None:
        """Return the size in bytes of the object at ``key``, or None if absent."""
        raise NotImplementedError

    def object_sha256(self, key: str) -> str:
        """Return the hex SHA-256 of the object at ``key``, read in chunks."""
        with self.open(key) as stream:
            return sha256_of_stream(stream)

    def open(self, key: str):
        """Return a readable, seekable binary file object for ``key``."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Delete the object at ``key``; a missing object is not an error."""
        raise NotImplementedError


def sha256_of_stream(stream) -> str:
    """Return the hex SHA-256 of everything ``stream`` yields from here on."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


class HashingReader:
    """A read-only stream that hashes and counts what passes through it.

    Reads stop at ``limit`` bytes even if ``source`` has more, so a client
    cannot store more than it declared. The object has no ``seek``, so
    Django's ``File.chunks`` reads it once from the start.
    """

    def __init__(self, source, *, limit: int):
        self.source = source
        self.limit = limit
        self.bytes_read = 0
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        remaining = self.limit - self.bytes_read
        if remaining <= 0:
            return b""
        if size is None or size < 0 or size > remaining:
            size = remaining

        data = self.source.read(size)
        self.bytes_read += len(data)
        self._digest.update(data)
        return data

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class _StreamFile(File):
    """A Django File over a stream, read by the storage in large chunks."""

    DEFAULT_CHUNK_SIZE = CHUNK_SIZE


class LocalUploadBackend(UploadBackend):
    """Files on Django's default storage, uploaded through a signed local URL.

    The storage must be on the local filesystem (it must implement
    ``path()``), because a received upload is renamed into place atomically.
    """

    name = "local"

    def __init__(self, storage=None):
        self.storage = storage if storage is not None else default_storage

    def signed_upload(
        self,
        *,
        key: str,
        size: int,
        content_type: str,
        expires_in: int,
        dataset_id: int,
        sha256: str = "",
    ) -> dict:
        expires_at = int(time.time()) + expires_in
        token = upload_token_sign(
            UploadGrant(
                dataset_id=dataset_id, key=key, size=size, expires_at=expires_at
            )
        )
        path = reverse("datasets:signed-upload", kwargs={"token": token})
        return {
            "url": f"{settings.CENTEROS_PUBLIC_URL}{path}",
            "method": "PUT",
            "headers": {"Content-Type": content_type},
            "expires_at": datetime.fromtimestamp(expires_at, tz=UTC),
        }

    def signed_download_url(self, key: str, *, expires_in: int) -> str:
        expires_at = int(time.time()) + expires_in
        token = download_token_sign(DownloadGrant(key=key, expires_at=expires_at))
        path = reverse("downloads:signed-download", kwargs={"token": token})
        return f"{settings.CENTEROS_PUBLIC_URL}{path}"

    def object_size(self, key: str) -> int | None:
        if not self.storage.exists(key):
            return None
        return self.storage.size(key)

    def open(self, key: str):
        return self.storage.open(key, "rb")

    def delete(self, key: str) -> None:
        self.storage.delete(key)
        self._remove_empty_folders(key)

    def receive(self, key: str, reader: HashingReader) -> str:
        """Store everything ``reader`` yields under a temporary key beside ``key``.

        Returns the temporary key; :meth:`promote` moves it to ``key`` and
        :meth:`delete` discards it. Writing to a temporary key first means a
        broken upload never replaces a complete object.
        """
        folder = posixpath.dirname(key)
        temporary_key = posixpath.join(folder, f".partial-{uuid.uuid4().hex}")
        try:
            return self.storage.save(temporary_key, _StreamFile(reader, name=key))
        except BaseException:
            # A client that disconnects mid-body can surface as an OSError
            # from the read; the partial file must not stay behind.
            self.storage.delete(temporary_key)
            raise

    def promote(self, temporary_key: str, key: str) -> None:
        """Atomically replace the object at ``key`` with ``temporary_key``."""
        os.replace(self.storage.path(temporary_key), self.storage.path(key))

    def _remove_empty_folders(self, key: str) -> None:
        """Remove the folders of ``key`` that are now empty, up to ``datasets/``.

        Each upload has its own folder, so without this every deleted dataset
        would leave two empty folders behind.
        """
        folder = posixpath.dirname(key)
        while folder and folder.count("/") >= 2:
            try:
                os.rmdir(self.storage.path(folder))
            except OSError:
                # Not empty, already gone, or not a local path: stop here.
                return
            folder = posixpath.dirname(folder)


# Dotted paths, so that the cloud SDKs are imported only when configured.
UPLOAD_BACKENDS: dict[str, str] = {
    "local": "datasets.storage.LocalUploadBackend",
    "s3": "datasets.cloud_storage.S3UploadBackend",
    "gcs": "datasets.cloud_storage.GCSUploadBackend",
}


def get_upload_backend() -> UploadBackend:
    """Return the upload backend that ``CENTEROS_UPLOAD_BACKEND`` names.

    The backend works on Django's default storage, so it must be of the
    matching kind (local files, S3Storage or GoogleCloudStorage).
    """
    name = getattr(settings, "CENTEROS_UPLOAD_BACKEND", DEFAULT_BACKEND)
    path = UPLOAD_BACKENDS.get(name)
    if path is None:
        known = ", ".join(sorted(UPLOAD_BACKENDS))
        raise ImproperlyConfigured(
            f"CENTEROS_UPLOAD_BACKEND is {name!r}; the known backends are: {known}."
        )
    return import_string(path)()


def download_url_sign(*, key: str, expires_in: int | None = None) -> dict:
    """Sign a download of the stored object at ``key``.

    Returns ``{"url", "expires_at"}``; ``expires_in`` defaults to
    ``CENTEROS_DOWNLOAD_URL_TTL`` seconds. The URL is a credential: return
    it to the caller and never log it.
    """
    if expires_in is None:
        expires_in = settings.CENTEROS_DOWNLOAD_URL_TTL
    if expires_in < 1:
        raise ValueError(f"expires_in must be at least 1 second; got {expires_in}.")

    expires_at = int(time.time()) + expires_in
    url = get_upload_backend().signed_download_url(key, expires_in=expires_in)
    return {"url": url, "expires_at": datetime.fromtimestamp(expires_at, tz=UTC)}
