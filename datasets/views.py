"""The local signed endpoints: ``PUT /api/uploads/<token>``, ``GET /api/downloads/<token>``.

A plain Django view rather than a DRF one, so that nothing parses the body:
the file is read from the request stream in chunks and written to storage
as it arrives. The token itself is the credential, so the endpoint takes no
other authentication and is exempt from CSRF (it sets no cookie and reads
none). Logs name the dataset, never the token or the URL.

Under WSGI the upload view reads straight from the socket. Under ASGI,
Django 5.2 would first spool the whole body to a temporary file, so
``centeros.asgi`` sends upload PUTs to ``datasets.asgi_uploads`` instead,
which streams the body and applies the same checks through
:func:`check_upload_request` and the same service. A server access log
still records the URL, token included, unless it is turned off for these
paths.
"""

import dataclasses
import logging
import posixpath

from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from centeros.errors import DomainError
from datasets import services
from datasets.storage import (
    DownloadTokenError,
    LocalUploadBackend,
    UploadGrant,
    UploadTokenError,
    download_token_read,
    get_upload_backend,
    upload_token_read,
)

logger = logging.getLogger(__name__)


def _error(status: int, detail: str, *, code: str, headers=None) -> JsonResponse:
    response = JsonResponse(
        {"ok": False, "detail": detail, "code": code}, status=status, headers=headers
    )
    # Django's request logger writes the path of every 4xx and 5xx response,
    # and the path here is the signed token. This view logs its own errors
    # with the dataset id instead, and Django 5.2's log_response() skips
    # responses that carry this flag.
    response._has_been_logged = True
    return response


@dataclasses.dataclass
class UploadRejected(Exception):
    """An upload request rejected before its body is read."""

    status: int
    detail: str
    code: str
    headers: dict | None = None


def check_upload_request(
    *, method: str, token: str, content_length: str, transfer_encoding: str
) -> tuple[UploadGrant, int]:
    """Return the grant and the length of a signed upload request.

    Raises UploadRejected for another method than PUT (405), an invalid or
    expired token (403), a missing length or a chunked body (411) and a
    length that is not a byte count (400).
    """
    if method != "PUT":
        raise UploadRejected(
            405,
            f"{method} is not allowed here; send the file with PUT.",
            "method_not_allowed",
            {"Allow": "PUT"},
        )

    # Step 1: the signature and expiry of the token.
    try:
        grant = upload_token_read(token)
    except UploadTokenError as error:
        logger.warning("Rejected an upload: %s", error)
        raise UploadRejected(403, str(error), "invalid_upload_url")

    # Step 2: the exact length must be announced up front; a chunked body
    # could not be checked against the signed size before storing it.
    if not content_length or transfer_encoding:
        logger.info("Rejected an upload to dataset %s: no length", grant.dataset_id)
        raise UploadRejected(
            411,
            f"Send a Content-Length header of {grant.size}, the signed size; "
            "chunked uploads are not accepted.",
            "length_required",
        )
    length = int(content_length) if content_length.isdigit() else -1
    if length < 0:
        raise UploadRejected(
            400,
            f"Content-Length must be a byte count; got {content_length[:40]!r}.",
            "invalid",
        )
    return grant, length


def store_upload(*, grant: UploadGrant, body, content_length: int) -> tuple[int, dict]:
    """Store an upload body through the service; return (status, JSON body).

    Every error becomes the API's error envelope, logged with the dataset id
    only: the request path carries the token.
    """
    try:
        dataset = services.dataset_upload_receive(
            grant=grant, body=body, content_length=content_length
        )
    except DomainError as error:
        logger.info(
            "Rejected an upload to dataset %s (%s): %s",
            grant.dataset_id,
            error.code,
            error.detail,
        )
        return error.status_code, _error_body(error.detail, error.code)
    except Exception:
        # Caught here rather than by the server, whose handler would log the
        # request path and with it the token.
        logger.exception("Could not store the upload of dataset %s", grant.dataset_id)
        return 500, _error_body(
            "The upload could not be stored; try again later.", "server_error"
        )

    data = {
        "dataset_id": dataset.pk,
        "size_bytes": dataset.uploaded_bytes,
        "sha256": dataset.sha256,
    }
    return 200, {"ok": True, "data": data}


def _error_body(detail: str, code: str) -> dict:
    return {"ok": False, "detail": detail, "code": code}


@csrf_exempt
def signed_upload(request, token: str) -> JsonResponse:
    """Store the PUT body as the file of the dataset that ``token`` names."""
    try:
        grant, content_length = check_upload_request(
            method=request.method,
            token=token,
            content_length=request.META.get("CONTENT_LENGTH", ""),
            transfer_encoding=request.headers.get("Transfer-Encoding", ""),
        )
    except UploadRejected as rejected:
        return _error(
            rejected.status,
            rejected.detail,
            code=rejected.code,
            headers=rejected.headers,
        )

    status, body = store_upload(
        grant=grant, body=request, content_length=content_length
    )
    if status != 200:
        return _error(status, body["detail"], code=body["code"])
    return JsonResponse(body)


def signed_download(request, token: str) -> HttpResponse:
    """Stream the object that ``token`` names, while the token is valid.

    Serves local storage only; with a cloud store, signed download URLs
    point at the store itself.
    """
    if request.method not in ("GET", "HEAD"):
        return _error(
            405,
            f"{request.method} is not allowed here; download with GET.",
            code="method_not_allowed",
            headers={"Allow": "GET, HEAD"},
        )

    try:
        grant = download_token_read(token)
    except DownloadTokenError as error:
        logger.warning("Rejected a download: %s", error)
        return _error(403, str(error), code="invalid_download_url")

    backend = get_upload_backend()
    if not isinstance(backend, LocalUploadBackend):
        return _error(
            404,
            "Downloads are served by the cloud store; request a new download URL.",
            code="not_found",
        )
    if backend.object_size(grant.key) is None:
        logger.info("Rejected a download: the object no longer exists")
        return _error(
            404,
            "The file no longer exists; it may have been deleted.",
            code="not_found",
        )

    logger.info("Serving a signed download of %d bytes", backend.object_size(grant.key))
    return FileResponse(
        backend.open(grant.key),
        as_attachment=True,
        filename=posixpath.basename(grant.key),
    )
