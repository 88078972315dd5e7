"""Write-side rules of datasets: records, signed uploads, confirmation, deletion.

The upload flow is three calls. ``dataset_upload_start`` reserves a storage
key and signs an upload URL for an exact size. The client PUTs the file
there, and ``dataset_upload_receive`` stores it when storage is local.
Then ``dataset_confirm_upload`` checks the stored object against what was
declared, inspects it and marks the dataset ``ready`` or ``failed``.
"""

import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from centeros.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from datasets.choices import DatasetFileType, DatasetStatus
from datasets.inspection import InspectionError, detect_file_type, inspect_file
from datasets.models import Dataset
from datasets.storage import (
    HashingReader,
    LocalUploadBackend,
    UploadGrant,
    get_upload_backend,
)

logger = logging.getLogger(__name__)

MAX_FILENAME_LENGTH = 150
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# A MIME type without parameters, as RFC 6838 allows its names to be spelled.
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9!#$&^_.+-]+$")
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")

# ---------------------------------------------------------------------------
# Deletion guards

DeletionGuard = Callable[[Dataset], str | None]
_deletion_guards: list[DeletionGuard] = []


def register_deletion_guard(guard: DeletionGuard) -> None:
    """Add a check that may block deleting a dataset.

    ``guard(dataset)`` returns a sentence saying what blocks the delete (for
    example a running training job that reads the dataset), or None. Apps
    that depend on datasets register their guard from ``AppConfig.ready``;
    registering the same function twice has no effect.
    """
    if guard not in _deletion_guards:
        _deletion_guards.append(guard)


def unregister_deletion_guard(guard: DeletionGuard) -> None:
    """Remove a guard added by :func:`register_deletion_guard`, if present."""
    if guard in _deletion_guards:
        _deletion_guards.remove(guard)


def dataset_deletion_blockers(*, dataset: Dataset) -> list[str]:
    """Return the sentences of every registered guard that blocks ``dataset``."""
    blockers = []
    for guard in list(_deletion_guards):
        reason = guard(dataset)
        if reason:
            blockers.append(reason)
    return blockers


# ---------------------------------------------------------------------------
# Input rules shared by the actions, the admin and the upload endpoint


def safe_filename(filename: str) -> str:
    """Return the base name of ``filename`` reduced to ASCII letters, digits, ``._-``.

    Folders (with ``/`` or ``\\``) and accents are dropped, and each run of
    other characters becomes one ``_``. Leading dots are removed so that the
    name is never hidden or relative. Long names are cut to
    ``MAX_FILENAME_LENGTH`` keeping the extension. Raises InvalidInput when
    no letter or digit remains.
    """
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    decomposed = unicodedata.normalize("NFKD", base)
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    base = _UNSAFE_FILENAME_CHARACTERS.sub("_", base.strip())
    base = base.lstrip(".").rstrip(".")

    if not base.strip("._-"):
        raise InvalidInput(
            f"The filename {filename[:200]!r} has no usable characters; name the "
            "file with letters, digits, dots, dashes or underscores.",
            errors={"filename": ["No usable characters."]},
        )

    if len(base) > MAX_FILENAME_LENGTH:
        suffix = ".tar.gz" if base.lower().endswith(".tar.gz") else ""
        if not suffix and "." in base[-20:]:
            suffix = base[base.rindex(".") :]
        base = base[: MAX_FILENAME_LENGTH - len(suffix)] + suffix
    return base


def _validated_sha256(value: str | None, *, field: str) -> str:
    """Return ``value`` in lower case, or raise InvalidInput unless it is hex."""
    if value is None or value == "":
        return ""
    if not _SHA256.match(value):
        raise InvalidInput(
            f"{field} must be 64 hexadecimal characters (a SHA-256 digest); "
            f"got {value[:80]!r}.",
            errors={field: ["Must be 64 hexadecimal characters."]},
        )
    return value.lower()


def _validated_content_type(value: str | None) -> str:
    if not value:
        return DEFAULT_CONTENT_TYPE
    if not _CONTENT_TYPE.match(value):
        raise InvalidInput(
            f"content_type must be a MIME type such as 'application/x-hdf5', "
            f"without parameters; got {value[:100]!r}.",
            errors={"content_type": ["Must be a MIME type such as type/subtype."]},
        )
    return value


def _validated_tags(tags: list[str] | None) -> list[str]:
    """Return the tags stripped, without blanks or repeats, in their order."""
    cleaned: list[str] = []
    for tag in tags or []:
        tag = tag.strip()
        if not tag or tag in cleaned:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                f"The tag {tag[:80]!r} is longer than {MAX_TAG_LENGTH} characters; "
                "shorten it.",
                errors={"tags": [f"At most {MAX_TAG_LENGTH} characters per tag."]},
            )
        cleaned.append(tag)

    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(
            f"A dataset has at most {MAX_TAGS} tags; {len(cleaned)} were given.",
            errors={"tags": [f"At most {MAX_TAGS} tags."]},
        )
    return cleaned


def _check_upload_size(size: int) -> None:
    """Raise unless ``size`` is between 1 byte and the configured maximum."""
    if size < 1:
        raise InvalidInput(
            f"file_size must be at least 1 byte; got {size}.",
            errors={"file_size": ["Must be at least 1."]},
        )

    maximum = settings.CENTEROS_MAX_UPLOAD_SIZE
    if size > maximum:
        raise PayloadTooLarge(
            f"The file is {size} bytes, over the maximum upload size of {maximum} "
            "bytes; split the dataset into smaller files.",
            errors={"file_size": [f"At most {maximum} bytes."]},
        )


# ---------------------------------------------------------------------------
# Records


def dataset_create(
    *,
    org,
    name: str,
    description: str = "",
    tags: list[str] | None = None,
    file_type: str = DatasetFileType.OTHER,
    created_by=None,
) -> Dataset:
    """Create a dataset record without a file, in ``pending_upload``.

    The file comes later through :func:`dataset_upload_start`. Raises
    InvalidInput for a blank name, an unknown file type or invalid tags.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be blank.", errors={"name": ["Blank."]})
    if file_type not in DatasetFileType.values:
        known = ", ".join(DatasetFileType.values)
        raise InvalidInput(
            f"file_type {file_type!r} is not one of: {known}.",
            errors={"file_type": ["Unknown file type."]},
        )

    dataset = Dataset.objects.create(
        org=org,
        name=name,
        description=description,
        tags=_validated_tags(tags),
        file_type=file_type,
        created_by=created_by,
    )
    logger.info("Created dataset %s in org %s", dataset.pk, org.pk)
    return dataset


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    """Delete ``dataset`` and, once the deletion commits, its stored file.

    The row is locked first, then every registered deletion guard is asked;
    any objection is a Conflict that names what blocks the delete. The file
    is removed only after the transaction commits, so a rolled-back delete
    never loses the file.
    """
    locked = Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
    if locked is None:
        raise NotFound(
            f"Dataset {dataset.pk} does not exist.", code="dataset_not_found"
        )

    blockers = dataset_deletion_blockers(dataset=locked)
    if blockers:
        raise Conflict(" ".join(blockers), code="dataset_in_use")

    dataset_id = locked.pk
    key = locked.storage_key
    locked.delete()
    logger.info("Deleted dataset %s of org %s", dataset_id, locked.org_id)

    if key:
        transaction.on_commit(
            partial(_delete_stored_object, key=key, dataset_id=dataset_id)
        )


def _delete_stored_object(*, key: str, dataset_id: int) -> None:
    """Delete the stored file of a deleted dataset, logging any failure."""
    try:
        get_upload_backend().delete(key)
    except OSError:
        # TODO: sweep storage for files without a dataset once cloud
        # backends exist; until then an object left here stays orphaned.
        logger.exception("Could not delete the file of deleted dataset %s", dataset_id)
        return
    logger.info("Deleted the stored file of dataset %s", dataset_id)


# ---------------------------------------------------------------------------
# Uploads


@transaction.atomic
def dataset_upload_start(
    *,
    org,
    filename: str,
    file_size: int,
    dataset_id: int | None = None,
    name: str | None = None,
    content_type: str | None = None,
    sha256: str | None = None,
    created_by=None,
) -> tuple[Dataset, dict]:
    """Reserve a storage key for a file and sign an upload URL for it.

    Without ``dataset_id`` a dataset named ``name`` (default: the file name)
    is created. With it, the dataset must be ``pending_upload`` or
    ``failed``, and a given ``name`` renames it. A failed dataset goes back
    to ``pending_upload``, and its earlier file is deleted once this
    commits. Every call makes a new key,
    so the URLs signed before stop working. Returns the dataset and the
    signed upload (``url``, ``method``, ``headers``, ``expires_at``).

    Raises PayloadTooLarge over ``CENTEROS_MAX_UPLOAD_SIZE``, Conflict for a
    ready or processing dataset, and InvalidInput for a file name without
    usable characters, an invalid content type or SHA-256.
    """
    _check_upload_size(file_size)
    safe_name = safe_filename(filename)
    content_type = _validated_content_type(content_type)
    expected_sha256 = _validated_sha256(sha256, field="sha256")

    if dataset_id is None:
        dataset = Dataset(
            org=org,
            name=(name.strip() if name and name.strip() else safe_name)[:200],
            created_by=created_by,
        )
        previous_key = ""
    else:
        dataset = Dataset.objects.select_for_update().get_for_org(org, pk=dataset_id)
        _check_can_take_new_file(dataset)
        if dataset.status == DatasetStatus.FAILED:
            dataset.transition_to(DatasetStatus.PENDING_UPLOAD)
        if name and name.strip():
            dataset.name = name.strip()[:200]
        previous_key = dataset.storage_key

    dataset.original_filename = safe_name
    dataset.file_type = detect_file_type(safe_name)
    dataset.content_type = content_type
    dataset.size_bytes = file_size
    dataset.expected_sha256 = expected_sha256
    dataset.sha256 = ""
    dataset.uploaded_bytes = 0
    dataset.uploaded_at = None
    dataset.metadata = {}
    dataset.episode_count = None
    dataset.frame_count = None
    dataset.error = ""
    dataset.save()

    # The key needs the dataset id, which a new row has only after saving.
    dataset.storage_key = (
        f"datasets/{org.pk}/{dataset.pk}/{uuid.uuid4().hex}/{safe_name}"
    )
    dataset.save(update_fields=["storage_key", "updated_at"])

    if previous_key and previous_key != dataset.storage_key:
        transaction.on_commit(
            partial(_delete_stored_object, key=previous_key, dataset_id=dataset.pk)
        )

    signed = get_upload_backend().signed_upload(
        key=dataset.storage_key,
        size=file_size,
        content_type=content_type,
        expires_in=settings.CENTEROS_UPLOAD_URL_TTL,
        dataset_id=dataset.pk,
        sha256=expected_sha256,
    )
    logger.info(
        "Signed an upload of %d bytes for dataset %s in org %s",
        file_size,
        dataset.pk,
        org.pk,
    )
    return dataset, signed


def _check_can_take_new_file(dataset: Dataset) -> None:
    if dataset.status == DatasetStatus.READY:
        raise Conflict(
            f"Dataset {dataset.pk} is ready; its file cannot be replaced. Create a "
            "new dataset for the new file.",
            code="dataset_ready",
        )
    if dataset.status == DatasetStatus.PROCESSING:
        raise Conflict(
            f"Dataset {dataset.pk} is being processed; wait until it is ready or "
            "failed.",
            code="dataset_processing",
        )


def _check_can_receive(dataset: Dataset | None, grant: UploadGrant) -> Dataset:
    """Return ``dataset`` if the upload that ``grant`` signs may be stored."""
    if dataset is None:
        raise NotFound(
            f"Dataset {grant.dataset_id} no longer exists; create a new one.",
            code="dataset_not_found",
        )
    _check_can_take_new_file(dataset)
    if dataset.status != DatasetStatus.PENDING_UPLOAD:
        raise Conflict(
            f"Dataset {dataset.pk} is {dataset.status}; request a new upload URL "
            "with get_upload_signed_url.",
            code="invalid_transition",
        )
    if dataset.storage_key != grant.key:
        raise Conflict(
            f"A newer upload URL replaced this one for dataset {dataset.pk}; upload "
            "to the URL that get_upload_signed_url returned last.",
            code="upload_url_replaced",
        )
    return dataset


def dataset_upload_receive(*, grant: UploadGrant, body, content_length: int) -> Dataset:
    """Store the body of a signed local upload and record its SHA-256.

    ``body`` is read once, in chunks, and never held in memory whole. The
    bytes go to a temporary object first. It replaces the dataset's object
    only when exactly ``grant.size`` bytes arrived and the locked dataset is
    still ``pending_upload`` under the signed key. Otherwise it is deleted
    and nothing changes. A second upload to the same URL replaces the first.

    Raises PayloadTooLarge over the maximum size, InvalidInput when the
    length differs from the signed size or the body ends early, NotFound
    for a deleted dataset, Conflict when the dataset is ready or not
    pending, or when a newer URL was signed for it, and
    ServiceUnavailable when storage is not local.
    """
    maximum = settings.CENTEROS_MAX_UPLOAD_SIZE
    if content_length > maximum:
        raise PayloadTooLarge(
            f"The upload is {content_length} bytes, over the maximum upload size of "
            f"{maximum} bytes."
        )
    if content_length != grant.size:
        raise InvalidInput(
            f"Content-Length is {content_length} but this upload URL is signed for "
            f"exactly {grant.size} bytes; send the whole file, unchanged.",
            code="size_mismatch",
        )

    backend = get_upload_backend()
    if not isinstance(backend, LocalUploadBackend):
        raise ServiceUnavailable(
            "Uploads go directly to the cloud store; this server does not take them."
        )

    # Reject early, before reading a body that could never be stored.
    _check_can_receive(Dataset.objects.filter(pk=grant.dataset_id).first(), grant)

    logger.info("Receiving %d bytes for dataset %s", grant.size, grant.dataset_id)
    reader = HashingReader(body, limit=grant.size)
    temporary_key = backend.receive(grant.key, reader)

    if reader.bytes_read != grant.size:
        backend.delete(temporary_key)
        logger.warning(
            "Upload of dataset %s ended after %d of %d bytes",
            grant.dataset_id,
            reader.bytes_read,
            grant.size,
        )
        raise InvalidInput(
            f"The upload ended after {reader.bytes_read} of {grant.size} bytes; "
            "send the whole file again to the same URL.",
            code="upload_incomplete",
        )

    try:
        with transaction.atomic():
            dataset = _check_can_receive(
                Dataset.objects.select_for_update().filter(pk=grant.dataset_id).first(),
                grant,
            )
            dataset.sha256 = reader.sha256
            dataset.uploaded_bytes = reader.bytes_read
            dataset.uploaded_at = timezone.now()
            dataset.save(
                update_fields=["sha256", "uploaded_bytes", "uploaded_at", "updated_at"]
            )
            # Last, so that a refused or failed save leaves the object as it was.
            backend.promote(temporary_key, grant.key)
    except BaseException:
        backend.delete(temporary_key)
        raise

    logger.info("Stored %d bytes for dataset %s", reader.bytes_read, dataset.pk)
    return dataset


def dataset_confirm_upload(
    *, org, dataset_id: int, sha256: str | None = None
) -> Dataset:
    """Check the uploaded file of a dataset, inspect it and mark it ready.

    The stored object must exist. When it does not, nothing changes, and the
    InvalidInput raised tells the caller to upload first. Its size must equal
    the declared size and its SHA-256 the expected one (given here or when
    the URL was signed). Then the file is inspected and the dataset becomes
    ``ready`` with its metadata, counts and resolved file type (an archive
    becomes ``lerobot`` or ``rosbag2``).

    The work commits in three short transactions, so no lock is held while
    the file is read. A mismatch or a file that cannot be inspected marks
    the dataset ``failed`` with the reason, commits that, and raises
    InvalidInput. Raises Conflict when the dataset is ready, failed, or
    being confirmed by another request (processing for less than
    STALE_PROCESSING).
    """
    given_sha256 = _validated_sha256(sha256, field="sha256")

    # Step 1, in a short transaction: check the request and move the dataset
    # to processing, so a second confirm gets a 409 instead of a second run.
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get_for_org(org, pk=dataset_id)
        _confirm_start(dataset, given_sha256)

    # Step 2, outside any transaction: reading and inspecting a large file
    # takes a while, and on SQLite an open write transaction would block
    # every other write (an emergency stop included) until it ends.
    try:
        outcome = _confirm_check(dataset, given_sha256)
    except Exception:
        # Leave no dataset in processing behind an unexpected error.
        failure = (
            "The upload check failed unexpectedly; upload the file again.",
            "confirm_error",
        )
        _confirm_finish(dataset.pk, failure, None, "")
        raise

    # Step 3, in a short transaction: record the outcome.
    dataset = _confirm_finish(dataset.pk, *outcome)
    if dataset.status == DatasetStatus.FAILED:
        raise InvalidInput(dataset.error, code=outcome[0][1])
    return dataset


# A confirm that has been processing for longer than this is taken to have
# died with its server process, and may be started again.
STALE_PROCESSING = timedelta(minutes=10)


def _confirm_start(dataset: Dataset, given_sha256: str) -> None:
    """Check the locked ``dataset`` can be confirmed and mark it processing."""
    if (
        dataset.status == DatasetStatus.PROCESSING
        and timezone.now() - dataset.updated_at < STALE_PROCESSING
    ):
        raise Conflict(
            f"Dataset {dataset.pk} is being confirmed by another request; wait for "
            "it to finish.",
            code="dataset_processing",
        )
    if dataset.status == DatasetStatus.READY:
        raise Conflict(
            f"Dataset {dataset.pk} is already ready; there is nothing to confirm.",
            code="dataset_ready",
        )
    if dataset.status == DatasetStatus.FAILED:
        reason = dataset.error.rstrip(". ") or "for an unrecorded reason"
        raise Conflict(
            f"Dataset {dataset.pk} failed: {reason}. Request a new upload URL with "
            f"get_upload_signed_url and dataset_id={dataset.pk}, upload again, then "
            "confirm.",
            code="invalid_transition",
        )
    if not dataset.storage_key:
        raise InvalidInput(
            f"Dataset {dataset.pk} has no upload yet; call get_upload_signed_url, "
            "upload the file, then confirm.",
            code="upload_missing",
        )
    if (
        given_sha256
        and dataset.expected_sha256
        and given_sha256 != dataset.expected_sha256
    ):
        raise InvalidInput(
            f"sha256 {given_sha256} differs from {dataset.expected_sha256}, given "
            f"when the upload URL for dataset {dataset.pk} was signed; give the "
            "SHA-256 of the file you uploaded.",
            errors={"sha256": ["Differs from the SHA-256 declared earlier."]},
        )

    if get_upload_backend().object_size(dataset.storage_key) is None:
        raise InvalidInput(
            f"No file has been uploaded for dataset {dataset.pk} yet; PUT it to the "
            "upload URL, then confirm.",
            code="upload_missing",
        )

    if dataset.status != DatasetStatus.PROCESSING:
        dataset.transition_to(DatasetStatus.PROCESSING)
    dataset.save(update_fields=["status", "updated_at"])
    logger.info("Confirming the upload of dataset %s", dataset.pk)


def _confirm_check(dataset: Dataset, given_sha256: str):
    """Check size and checksum and inspect the file, with no lock held.

    Returns ``(failure, metadata, sha256)``: ``failure`` is ``(reason,
    code)`` or None, ``metadata`` is the inspection result of a file that
    passed, and ``sha256`` the stored file's digest when it was computed.
    """
    backend = get_upload_backend()
    stored_size = backend.object_size(dataset.storage_key)
    if stored_size != dataset.size_bytes:
        return (
            (
                f"The stored file is {stored_size} bytes but {dataset.size_bytes} bytes "
                "were declared; upload the file again.",
                "size_mismatch",
            ),
            None,
            "",
        )

    # The local upload endpoint records the digest of exactly the bytes it
    # stored; other backends are read back once.
    actual_sha256 = dataset.sha256 or backend.object_sha256(dataset.storage_key)
    expected_sha256 = given_sha256 or dataset.expected_sha256
    if expected_sha256 and actual_sha256 != expected_sha256:
        return (
            (
                f"The stored file has SHA-256 {actual_sha256} but {expected_sha256} was "
                "expected; the file changed in transit, so upload it again.",
                "sha256_mismatch",
            ),
            None,
            actual_sha256,
        )

    # NOTE: inspection runs in the request; a background task would suit
    # uploads whose inspection has to scan the file (MCAP without summary).
    filename = dataset.original_filename or dataset.storage_key.rsplit("/", 1)[-1]
    try:
        with backend.open(dataset.storage_key) as stream:
            metadata = inspect_file(stream, filename=filename)
    except InspectionError as error:
        return (str(error), "inspection_failed"), None, actual_sha256
    return None, metadata, actual_sha256


def _confirm_finish(dataset_pk: int, failure, metadata, sha256: str) -> Dataset:
    """Record a confirm's outcome on the dataset, if it is still processing."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(pk=dataset_pk).first()
        if dataset is None:
            raise NotFound(f"Dataset {dataset_pk} was deleted while it was confirmed.")
        if dataset.status != DatasetStatus.PROCESSING:
            raise Conflict(
                f"Dataset {dataset_pk} changed to {dataset.status} while it was "
                "confirmed.",
                code="invalid_transition",
            )
        if sha256:
            dataset.sha256 = sha256
        if failure is not None:
            reason, code = failure
            _mark_failed(dataset, reason, code=code)
        else:
            _mark_ready(dataset, metadata)
    return dataset


def _mark_failed(dataset: Dataset, reason: str, *, code: str) -> None:
    dataset.transition_to(DatasetStatus.FAILED)
    dataset.error = reason
    dataset.save()
    logger.warning("Dataset %s failed its upload check (%s)", dataset.pk, code)


def _mark_ready(dataset: Dataset, metadata: dict) -> None:
    dataset.transition_to(DatasetStatus.READY)
    resolved = metadata.get("format")
    if resolved in DatasetFileType.values:
        dataset.file_type = resolved
    dataset.metadata = metadata
    dataset.episode_count = metadata.get("episodes")
    dataset.frame_count = metadata.get("frames")
    dataset.error = ""
    dataset.ready_at = timezone.now()
    dataset.save()
    logger.info(
        "Dataset %s is ready: %s, %s episodes, %s frames",
        dataset.pk,
        dataset.file_type,
        dataset.episode_count,
        dataset.frame_count,
    )
