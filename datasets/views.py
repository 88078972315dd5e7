"""The local signed-upload endpoint: ``PUT /api/uploads/<signed token>``.

A plain Django view rather than a DRF one, so that nothing parses the body:
the file is read from the request stream in chunks and written to storage
as it arrives. The token itself is the credential, so the endpoint takes no
other authentication and is exempt from CSRF (it sets no cookie and reads
none). Logs name the dataset, never the token or the URL.

NOTE: under ASGI (uvicorn), Django 5.2 first spools the whole body to a
temporary file (on disk beyond FILE_UPLOAD_MAX_MEMORY_SIZE) before this view
runs, so memory stays flat but the disk briefly holds the file twice. Under
WSGI the view reads straight from the socket. A server access log still
records the URL, token included, unless it is turned off for this path.
"""

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from centeros.errors import DomainError
from datasets import services
from datasets.storage import UploadTokenError, upload_token_read

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


@csrf_exempt
def signed_upload(request, token: str) -> JsonResponse:
    """Store the PUT body as the file of the dataset that ``token`` names."""
    if request.method != "PUT":
        return _error(
            405,
            f"{request.method} is not allowed here; send the file with PUT.",
            code="method_not_allowed",
            headers={"Allow": "PUT"},
        )

    # Step 1: the signature and expiry of the token.
    try:
        grant = upload_token_read(token)
    except UploadTokenError as error:
        logger.warning("Rejected an upload: %s", error)
        return _error(403, str(error), code="invalid_upload_url")

    # Step 2: the exact length must be announced up front; a chunked body
    # could not be checked against the signed size before storing it.
    raw_length = request.META.get("CONTENT_LENGTH", "")
    if not raw_length or request.headers.get("Transfer-Encoding"):
        logger.info("Rejected an upload to dataset %s: no length", grant.dataset_id)
        return _error(
            411,
            f"Send a Content-Length header of {grant.size}, the signed size; "
            "chunked uploads are not accepted.",
            code="length_required",
        )
    try:
        content_length = int(raw_length)
    except ValueError:
        content_length = -1
    if content_length < 0:
        return _error(
            400,
            f"Content-Length must be a byte count; got {raw_length[:40]!r}.",
            code="invalid",
        )

    # Step 3: store the body; the service checks the dataset and the size.
    try:
        dataset = services.dataset_upload_receive(
            grant=grant, body=request, content_length=content_length
        )
    except DomainError as error:
        logger.info(
            "Rejected an upload to dataset %s (%s): %s",
            grant.dataset_id,
            error.code,
            error.detail,
        )
        return _error(error.status_code, error.detail, code=error.code)
    except Exception:
        # Caught here rather than by Django, whose handler would log the
        # request path and with it the token.
        logger.exception("Could not store the upload of dataset %s", grant.dataset_id)
        return _error(
            500,
            "The upload could not be stored; try again later.",
            code="server_error",
        )

    return JsonResponse(
        {
            "ok": True,
            "data": {
                "dataset_id": dataset.pk,
                "size_bytes": dataset.uploaded_bytes,
                "sha256": dataset.sha256,
            },
        }
    )
