"""Dataset upload through a signed URL: request the URL, PUT, confirm.

The file is read exactly once: its bytes are hashed with SHA-256 while they
stream to the signed URL, and the digest goes to ``confirm_upload``, which
makes the server compare it with what it stored.

An interrupted upload can be resumed: the dataset created by the first
attempt is remembered (``PendingUploads``), and the next attempt asks for a
new signed URL for that same dataset and sends the whole file again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from centeros.client.config import PendingUploads
from centeros.client.errors import APIError, BadRequest, Conflict, NotFound

if TYPE_CHECKING:
    from centeros.client.api import CenterOSClient

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024


@dataclass
class UploadResult:
    """A confirmed upload: the dataset as the server returned it, and how."""

    dataset: dict[str, Any]
    dataset_id: int
    sha256: str
    size: int
    resumed: bool


class FileChangedError(Exception):
    """The file changed size while it was being uploaded."""


def upload_dataset_file(
    client: CenterOSClient,
    path: Path,
    *,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    dataset_id: int | None = None,
    pending: PendingUploads | None = None,
) -> UploadResult:
    """Upload ``path`` as a dataset and return the confirmed dataset."""
    # Step 1: the file must be a readable regular file; its size and
    # modification time identify this version of it.
    size, mtime_ns = _check_file(path)

    # Step 2: reuse a dataset from an earlier, interrupted attempt.
    key = PendingUploads.key(client.base_url, path, size, mtime_ns) if pending else ""
    remembered = pending.get(key) if pending else None
    reuse_id = dataset_id
    if reuse_id is None and remembered:
        reuse_id = remembered.get("dataset_id")
        logger.info("Resuming the upload of %s into dataset %s", path.name, reuse_id)

    # Step 3: a signed URL for the pending dataset, or for a new one.
    signed = _signed_url(
        client, path, size, name, reuse_id, explicit=dataset_id is not None
    )
    if signed is None:
        pending.delete(key)
        reuse_id = None
        signed = _signed_url(client, path, size, name, None, explicit=False)
    new_id = signed["dataset_id"]
    if pending:
        pending.put(
            key,
            {"dataset_id": new_id, "filename": path.name, "started_at": time.time()},
        )

    # Step 4: stream the file, hashing it on the way.
    max_size = signed.get("max_size")
    if isinstance(max_size, int) and size > max_size:
        raise APIError(
            413,
            f"{path.name} is {size} bytes, over the server's maximum upload size "
            f"of {max_size} bytes.",
            "payload_too_large",
        )
    digest = hashlib.sha256()
    logger.info(
        "Uploading %s (%d bytes) to dataset %s at %s",
        path.name,
        size,
        new_id,
        _origin(signed["upload_url"]),
    )
    client.put_signed(
        signed["upload_url"],
        headers=signed.get("headers") or {},
        content=_read_chunks(path, size, digest, progress),
        size=size,
    )
    sha256 = digest.hexdigest()

    # Step 5: the server checks size and checksum, then inspects the file.
    dataset = client.call("confirm_upload", {"dataset_id": new_id, "sha256": sha256})
    if pending:
        pending.delete(key)
    logger.info("Confirmed the upload of %s as dataset %s", path.name, new_id)
    return UploadResult(
        dataset=dataset if isinstance(dataset, dict) else {"data": dataset},
        dataset_id=new_id,
        sha256=sha256,
        size=size,
        resumed=reuse_id is not None,
    )


def _check_file(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {path}. Check the path and try again.")
    if not path.is_file():
        raise IsADirectoryError(
            f"{path} is not a regular file; upload a file (pack a folder into an "
            "archive first)."
        )
    if info.st_size == 0:
        raise ValueError(f"{path} is empty; there is nothing to upload.")
    with path.open("rb"):
        pass
    return info.st_size, info.st_mtime_ns


def _signed_url(
    client: CenterOSClient,
    path: Path,
    size: int,
    name: str | None,
    dataset_id: int | None,
    *,
    explicit: bool,
) -> dict[str, Any] | None:
    """Return the signed-URL response, or None if a remembered dataset is gone.

    A remembered dataset that was deleted (404), has moved on (409) or that
    the server cannot reuse (400 on ``dataset_id``) is forgotten and a new
    dataset is created. An explicitly given dataset id is never replaced.
    """
    params: dict[str, Any] = {"filename": path.name, "file_size": size}
    if name:
        params["name"] = name
    if dataset_id is not None:
        params["dataset_id"] = dataset_id

    try:
        signed = client.call("get_upload_signed_url", params)
    except (NotFound, Conflict, BadRequest) as error:
        reusable = not isinstance(error, BadRequest) or "dataset_id" in error.errors
        if dataset_id is None or explicit or not reusable:
            raise
        logger.info(
            "Dataset %s of an earlier upload cannot be reused (%s); creating a new one",
            dataset_id,
            error,
        )
        return None

    for field in ("dataset_id", "upload_url"):
        if field not in signed:
            raise APIError(
                200,
                f"The get_upload_signed_url response has no {field!r}; the server "
                "and this client do not agree on the upload flow.",
                "invalid_response",
            )
    return signed


def _read_chunks(
    path: Path,
    size: int,
    digest: Any,
    progress: Callable[[int, int], None] | None,
) -> Iterator[bytes]:
    """Yield the file's first ``size`` bytes in chunks, hashing them.

    The Content-Length is fixed before the body is sent, so a file that
    shrinks or grows meanwhile is an error rather than a corrupt upload.
    """
    sent = 0
    if progress:
        progress(0, size)
    with path.open("rb") as handle:
        while sent < size:
            chunk = handle.read(min(CHUNK_SIZE, size - sent))
            if not chunk:
                raise FileChangedError(
                    f"{path} shrank to {sent} bytes during the upload; upload it "
                    "again once nothing writes to it."
                )
            digest.update(chunk)
            sent += len(chunk)
            if progress:
                progress(sent, size)
            yield chunk
        if handle.read(1):
            raise FileChangedError(
                f"{path} grew during the upload; upload it again once nothing "
                "writes to it."
            )


def _origin(url: str) -> str:
    # Log where the bytes go without the signature in the path and query.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
