"""Actions of the datasets category."""

from django.conf import settings
from rest_framework import serializers

from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    ActionParams,
    PaginationParams,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    object_id_field,
)
from datasets import selectors, services
from datasets.choices import DatasetFileType, DatasetStatus
from datasets.models import Dataset


def _iso(value):
    return value.isoformat() if value else None


def dataset_data(dataset: Dataset) -> dict:
    """Summary of a dataset, as list_datasets returns it (no metadata)."""
    return {
        "id": dataset.pk,
        "org_id": dataset.org_id,
        "name": dataset.name,
        "description": dataset.description,
        "tags": dataset.tags,
        "file_type": dataset.file_type,
        "status": dataset.status,
        "filename": dataset.original_filename,
        "content_type": dataset.content_type,
        "size_bytes": dataset.size_bytes,
        "sha256": dataset.sha256 or None,
        "episode_count": dataset.episode_count,
        "frame_count": dataset.frame_count,
        "error": dataset.error or None,
        "created_by_id": dataset.created_by_id,
        "created_at": _iso(dataset.created_at),
        "updated_at": _iso(dataset.updated_at),
        "uploaded_at": _iso(dataset.uploaded_at),
        "ready_at": _iso(dataset.ready_at),
    }


def dataset_detail_data(dataset: Dataset) -> dict:
    """Everything get_dataset returns: the summary plus the inspected metadata."""
    return dataset_data(dataset) | {
        "expected_sha256": dataset.expected_sha256 or None,
        "uploaded_bytes": dataset.uploaded_bytes,
        "metadata": dataset.metadata,
    }


class ListDatasetsParams(PaginationParams):
    search = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Part of the name or description, ignoring case.",
    )
    file_type = StrictChoiceField(
        choices=DatasetFileType.values, required=False, help_text="File type."
    )
    status = StrictChoiceField(
        choices=DatasetStatus.values, required=False, help_text="Dataset status."
    )


@action(
    name="list_datasets",
    category="datasets",
    description="List datasets with optional search, file type, and pagination filters.",
    scopes=["datasets:read"],
    risk=Risk.READ,
    params=ListDatasetsParams,
)
def list_datasets(context, params):
    queryset = selectors.dataset_list(
        org=context.org,
        search=params.get("search"),
        file_type=params.get("file_type"),
        status=params.get("status"),
    )
    return paginate(queryset, params, dataset_data)


class DatasetIdParams(ActionParams):
    dataset_id = object_id_field("dataset")


@action(
    name="get_dataset",
    category="datasets",
    description="Get detailed information about a single dataset.",
    scopes=["datasets:read"],
    risk=Risk.READ,
    params=DatasetIdParams,
)
def get_dataset(context, params):
    dataset = selectors.dataset_get(org=context.org, dataset_id=params["dataset_id"])
    return dataset_detail_data(dataset)


@action(
    name="delete_dataset",
    category="datasets",
    description="Delete a dataset and its associated file from storage.",
    scopes=["datasets:write"],
    risk=Risk.DESTRUCTIVE,
    params=DatasetIdParams,
)
def delete_dataset(context, params):
    dataset = selectors.dataset_get(org=context.org, dataset_id=params["dataset_id"])
    services.dataset_delete(dataset=dataset)
    return {"id": params["dataset_id"], "name": dataset.name, "deleted": True}


class UploadDatasetParams(ActionParams):
    name = StrictCharField(max_length=200, help_text="Name of the dataset.")
    description = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=10_000,
        default="",
        help_text="Free-text description.",
    )
    tags = serializers.ListField(
        child=StrictCharField(allow_blank=True, max_length=services.MAX_TAG_LENGTH),
        required=False,
        max_length=services.MAX_TAGS,
        help_text="Labels to find the dataset by.",
    )
    file_type = StrictChoiceField(
        choices=DatasetFileType.values,
        required=False,
        default=DatasetFileType.OTHER,
        help_text="File type, when known before the upload.",
    )


@action(
    name="upload_dataset",
    category="datasets",
    description=(
        "Create a dataset record (metadata). For file upload, use "
        "get_upload_signed_url."
    ),
    scopes=["datasets:write"],
    risk=Risk.WRITE,
    params=UploadDatasetParams,
)
def upload_dataset(context, params):
    dataset = services.dataset_create(
        org=context.org,
        name=params["name"],
        description=params["description"],
        tags=params.get("tags"),
        file_type=params["file_type"],
        created_by=context.user,
    )
    return dataset_detail_data(dataset)


class GetUploadSignedUrlParams(ActionParams):
    filename = StrictCharField(
        max_length=255, help_text="Name of the file; its extension sets the format."
    )
    file_size = StrictIntegerField(
        min_value=1, help_text="Exact size of the file, in bytes."
    )
    dataset_id = object_id_field(
        "dataset",
        required=False,
        help_text="Dataset to upload to; a new one is created when omitted.",
    )
    name = StrictCharField(
        required=False,
        max_length=200,
        help_text="Name of the new dataset; defaults to the file name.",
    )
    content_type = StrictCharField(
        required=False,
        max_length=100,
        help_text="MIME type the upload is sent with.",
    )
    sha256 = StrictCharField(
        required=False,
        min_length=64,
        max_length=64,
        help_text="SHA-256 of the file, 64 hexadecimal characters; checked on confirm.",
    )


@action(
    name="get_upload_signed_url",
    category="datasets",
    description=(
        "Generate a signed URL for a direct dataset upload: a PUT of exactly "
        "file_size bytes that expires."
    ),
    scopes=["datasets:write"],
    risk=Risk.WRITE,
    params=GetUploadSignedUrlParams,
)
def get_upload_signed_url(context, params):
    dataset, signed = services.dataset_upload_start(
        org=context.org,
        filename=params["filename"],
        file_size=params["file_size"],
        dataset_id=params.get("dataset_id"),
        name=params.get("name"),
        content_type=params.get("content_type"),
        sha256=params.get("sha256"),
        created_by=context.user,
    )
    return {
        "dataset_id": dataset.pk,
        "filename": dataset.original_filename,
        "upload_url": signed["url"],
        "method": signed["method"],
        "headers": signed["headers"],
        "expires_at": _iso(signed["expires_at"]),
        "max_size": settings.CENTEROS_MAX_UPLOAD_SIZE,
    }


class ConfirmUploadParams(ActionParams):
    dataset_id = object_id_field("dataset")
    sha256 = StrictCharField(
        required=False,
        min_length=64,
        max_length=64,
        help_text="SHA-256 of the uploaded file, 64 hexadecimal characters.",
    )


@action(
    name="confirm_upload",
    category="datasets",
    description="Confirm that a signed-URL upload completed. Marks the dataset as ready.",
    scopes=["datasets:write"],
    risk=Risk.WRITE,
    params=ConfirmUploadParams,
    # The service commits in steps so that no transaction stays open while
    # the file is inspected.
    atomic=False,
)
def confirm_upload(context, params):
    dataset = services.dataset_confirm_upload(
        org=context.org,
        dataset_id=params["dataset_id"],
        sha256=params.get("sha256"),
    )
    return dataset_detail_data(dataset)
