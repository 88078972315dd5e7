"""Upload backends for S3-compatible stores and Google Cloud Storage.

Clients PUT dataset files straight to the store through URLs signed here,
and download through signed GETs, so the bytes never pass through the
platform. The backends work on the django-storages object configured as
Django's default storage, so their keys resolve to the same objects as
``default_storage.open(key)`` (the configured prefix included).

Stored objects are read through :class:`RangedReader`, a seekable file
object that fetches byte ranges on demand. Inspecting an HDF5 or an MCAP
file with a summary therefore reads its metadata, not the whole object.
"""

import base64
import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

from datasets.storage import CHUNK_SIZE, UploadBackend

logger = logging.getLogger(__name__)

# Each cache miss fetches at least this many bytes. Inspectors read many
# small pieces that lie close together (HDF5 object headers, MCAP records),
# so one request usually serves several of them.
RANGE_BLOCK_SIZE = 256 * 1024
RANGE_CACHE_BLOCKS = 16


class StorageRequestError(OSError):
    """A request to the cloud store failed (network, permissions, server)."""


class RangedReader(io.RawIOBase):
    """A read-only, seekable file object over an object fetched by byte range.

    ``fetch(start, stop)`` returns the bytes ``[start, stop)`` of the object.
    Small reads are served from a cache of ``RANGE_CACHE_BLOCKS`` aligned
    blocks; reads of two blocks or more are fetched in one request and not
    cached. ``bytes_fetched`` and ``requests`` count the traffic.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        size: int,
        *,
        name: str = "",
        block_size: int = RANGE_BLOCK_SIZE,
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self.size = size
        self.name = name
        self.block_size = block_size
        self.position = 0
        self.bytes_fetched = 0
        self.requests = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self.position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"whence must be 0, 1 or 2; got {whence}.")
        if position < 0:
            raise ValueError(f"Cannot seek to the negative position {position}.")
        self.position = position
        return position

    def readall(self) -> bytes:
        remaining = max(self.size - self.position, 0)
        if remaining == 0:
            return b""
        data = self._read_range(self.position, remaining)
        self.position += len(data)
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        length = min(len(view), self.size - self.position)
        if length <= 0:
            return 0

        data = self._read_range(self.position, length)
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _read_range(self, start: int, length: int) -> bytes:
        if length >= 2 * self.block_size:
            return self._fetch_counted(start, start + length)

        first = start // self.block_size
        last = (start + length - 1) // self.block_size
        pieces = [self._block(index) for index in range(first, last + 1)]
        joined = b"".join(pieces)
        offset = start - first * self.block_size
        return joined[offset : offset + length]

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block

        start = index * self.block_size
        stop = min(start + self.block_size, self.size)
        block = self._fetch_counted(start, stop)
        self._blocks[index] = block
        if len(self._blocks) > RANGE_CACHE_BLOCKS:
            self._blocks.popitem(last=False)
        return block

    def _fetch_counted(self, start: int, stop: int) -> bytes:
        data = self._fetch(start, stop)
        if len(data) != stop - start:
            raise StorageRequestError(
                f"The store returned {len(data)} bytes for the range {start}-{stop} "
                f"of {self.name!r}; the object may have changed, so read it again."
            )
        self.requests += 1
        self.bytes_fetched += len(data)
        return data


def _expires_at(expires_in: int) -> datetime:
    return datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=expires_in)


def _sha256_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


# ---------------------------------------------------------------------------
# S3 and S3-compatible stores


class S3UploadBackend(UploadBackend):
    """Presigned PUTs and GETs on the bucket of Django's default S3Storage."""

    name = "s3"

    def __init__(self, storage=None) -> None:
        from storages.backends.s3 import S3Storage

        storage = storage if storage is not None else storages["default"]
        if not isinstance(storage, S3Storage):
            raise ImproperlyConfigured(
                "CENTEROS_UPLOAD_BACKEND is 's3' but the default storage is "
                f"{type(storage).__name__}; set CENTEROS_STORAGE_BACKEND=s3."
            )
        self.storage = storage
        self.bucket_name = storage.bucket_name
        self.client = storage.connection.meta.client

    def object_name(self, key: str) -> str:
        """Return the object key in the bucket, with the configured prefix."""
        from storages.utils import clean_name

        # The storage's own normalisation, so that this backend and
        # default_storage agree on where a key lives.
        return self.storage._normalize_name(clean_name(key))

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
        # Content-Length and Content-Type become signed headers, so S3
        # rejects a body of another length or type with 403.
        params = {
            "Bucket": self.bucket_name,
            "Key": self.object_name(key),
            "ContentLength": size,
            "ContentType": content_type,
        }
        headers = {"Content-Type": content_type}
        if sha256:
            # S3 checks the body against this digest and stores it, so the
            # confirmation reads the checksum instead of the whole object.
            params["ChecksumSHA256"] = _sha256_base64(sha256)
            headers["x-amz-checksum-sha256"] = params["ChecksumSHA256"]

        url = self._call(
            "sign an upload for",
            key,
            self.client.generate_presigned_url,
            "put_object",
            Params=params,
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return {
            "url": url,
            "method": "PUT",
            "headers": headers,
            "expires_at": _expires_at(expires_in),
        }

    def signed_download_url(self, key: str, *, expires_in: int) -> str:
        return self._call(
            "sign a download of",
            key,
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket_name, "Key": self.object_name(key)},
            ExpiresIn=expires_in,
            HttpMethod="GET",
        )

    def object_size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def object_sha256(self, key: str) -> str:
        """Return the SHA-256 that S3 verified on upload, else hash the object.

        S3 keeps a full-object SHA-256 only when the client sent
        ``x-amz-checksum-sha256``; otherwise the object is streamed once.
        """
        head = self._head(key, checksums=True)
        if head is None:
            raise FileNotFoundError(f"No object at {key!r} in the store.")

        stored = head.get("ChecksumSHA256") or ""
        # A multipart upload stores a checksum of part checksums ("...-N"),
        # which is not the digest of the file.
        full_object = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        if stored and "-" not in stored and full_object:
            return base64.b64decode(stored).hex()

        response = self._call(
            "read",
            key,
            self.client.get_object,
            Bucket=self.bucket_name,
            Key=self.object_name(key),
        )
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(CHUNK_SIZE):
            digest.update(chunk)
        return digest.hexdigest()

    def open(self, key: str) -> RangedReader:
        size = self.object_size(key)
        if size is None:
            raise FileNotFoundError(f"No object at {key!r} in the store.")
        name = self.object_name(key)

        def fetch(start: int, stop: int) -> bytes:
            response = self._call(
                "read",
                key,
                self.client.get_object,
                Bucket=self.bucket_name,
                Key=name,
                Range=f"bytes={start}-{stop - 1}",
            )
            return response["Body"].read()

        return RangedReader(fetch, size, name=key)

    def delete(self, key: str) -> None:
        # S3 reports success for a delete of a missing key.
        self._call(
            "delete",
            key,
            self.client.delete_object,
            Bucket=self.bucket_name,
            Key=self.object_name(key),
        )

    def _head(self, key: str, *, checksums: bool = False) -> dict | None:
        from botocore.exceptions import ClientError

        extra = {"ChecksumMode": "ENABLED"} if checksums else {}
        try:
            return self.client.head_object(
                Bucket=self.bucket_name, Key=self.object_name(key), **extra
            )
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return None
            raise StorageRequestError(
                f"Could not read the object {key!r} from bucket "
                f"{self.bucket_name!r}: {error}"
            )

    def _call(self, verb: str, key: str, function, /, *args, **kwargs):
        """Call a boto3 ``function``; turn its errors into StorageRequestError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            raise StorageRequestError(
                f"Could not {verb} the object {key!r} in bucket "
                f"{self.bucket_name!r}: {error}"
            )


# ---------------------------------------------------------------------------
# Google Cloud Storage


class _HashingWriter:
    """A write-only sink that only hashes what is written to it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


class GCSUploadBackend(UploadBackend):
    """V4 signed PUTs and GETs on the bucket of Django's default GoogleCloudStorage.

    Signing needs a private key: the service-account key of the storage's
    credentials, or the IAM signBlob API when ``iam_sign_blob`` is set.
    """

    name = "gcs"

    def __init__(self, storage=None) -> None:
        from storages.backends.gcloud import GoogleCloudStorage

        storage = storage if storage is not None else storages["default"]
        if not isinstance(storage, GoogleCloudStorage):
            raise ImproperlyConfigured(
                "CENTEROS_UPLOAD_BACKEND is 'gcs' but the default storage is "
                f"{type(storage).__name__}; set CENTEROS_STORAGE_BACKEND=gcs."
            )
        self.storage = storage

    def object_name(self, key: str) -> str:
        """Return the object name in the bucket, with the configured prefix."""
        from storages.utils import clean_name

        return self.storage._normalize_name(clean_name(key))

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
        # x-goog-content-length-range is a signed header: GCS rejects a body
        # outside the range, here exactly ``size`` bytes. GCS verifies MD5
        # and CRC32C only, so a SHA-256 is checked on confirmation instead.
        headers = {
            "Content-Type": content_type,
            "x-goog-content-length-range": f"{size},{size}",
        }
        url = self._sign(
            key,
            method="PUT",
            expires_in=expires_in,
            content_type=content_type,
            headers={
                "x-goog-content-length-range": headers["x-goog-content-length-range"]
            },
        )
        return {
            "url": url,
            "method": "PUT",
            "headers": headers,
            "expires_at": _expires_at(expires_in),
        }

    def signed_download_url(self, key: str, *, expires_in: int) -> str:
        return self._sign(key, method="GET", expires_in=expires_in)

    def object_size(self, key: str) -> int | None:
        blob = self._call(
            "read", key, self.storage.bucket.get_blob, self.object_name(key)
        )
        return None if blob is None else int(blob.size)

    def object_sha256(self, key: str) -> str:
        """Stream the object once through SHA-256 (GCS stores MD5 and CRC32C only)."""
        blob = self.storage.bucket.blob(self.object_name(key))
        writer = _HashingWriter()
        self._call("read", key, blob.download_to_file, writer)
        return writer.digest.hexdigest()

    def open(self, key: str) -> RangedReader:
        size = self.object_size(key)
        if size is None:
            raise FileNotFoundError(f"No object at {key!r} in the store.")
        blob = self.storage.bucket.blob(self.object_name(key))

        def fetch(start: int, stop: int) -> bytes:
            # GCS ranges include their end byte.
            return self._call(
                "read",
                key,
                blob.download_as_bytes,
                start=start,
                end=stop - 1,
                checksum=None,
            )

        return RangedReader(fetch, size, name=key)

    def delete(self, key: str) -> None:
        from google.cloud.exceptions import NotFound

        blob = self.storage.bucket.blob(self.object_name(key))
        try:
            self._call("delete", key, blob.delete)
        except StorageRequestError as error:
            if isinstance(error.__cause__, NotFound):
                return
            raise

    def _sign(self, key: str, *, method: str, expires_in: int, **extra) -> str:
        blob = self.storage.bucket.blob(self.object_name(key))
        params = {
            "version": "v4",
            "method": method,
            "expiration": timedelta(seconds=expires_in),
            **extra,
        }
        if self.storage.iam_sign_blob:
            email, token = self.storage._get_iam_sign_blob_params()
            params["service_account_email"] = email
            params["access_token"] = token
        return self._call("sign a request for", key, blob.generate_signed_url, **params)

    def _call(self, verb: str, key: str, function, /, *args, **kwargs):
        """Call a google-cloud-storage ``function``; wrap its errors."""
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        try:
            return function(*args, **kwargs)
        except (GoogleAPIError, GoogleAuthError) as error:
            raise StorageRequestError(
                f"Could not {verb} the object {key!r} in bucket "
                f"{self.storage.bucket_name!r}: {error}"
            ) from error
