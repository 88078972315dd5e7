"""Build Django's ``STORAGES["default"]`` entry from CenterOS environment variables.

Imported by ``centeros/settings.py`` before Django is set up, so this module
imports nothing from Django apps and no cloud SDK. Dataset files, training
artifacts and everything else saved through ``default_storage`` go to the
one store configured here, and the upload backend of the same name signs
direct uploads to it.
"""

from collections.abc import Mapping

STORAGE_BACKENDS = ("local", "s3", "gcs")

S3_STORAGE_CLASS = "storages.backends.s3.S3Storage"
GCS_STORAGE_CLASS = "storages.backends.gcloud.GoogleCloudStorage"
LOCAL_STORAGE_CLASS = "django.core.files.storage.FileSystemStorage"


class StorageConfigurationError(ValueError):
    """An environment variable of the storage configuration is missing or invalid."""


def default_storage_entry(env: Mapping[str, str], *, local_root: str) -> dict:
    """Return the ``STORAGES["default"]`` entry that ``env`` configures.

    ``CENTEROS_STORAGE_BACKEND`` picks ``local`` (files under ``local_root``),
    ``s3`` or ``gcs``. Cloud stores need ``CENTEROS_STORAGE_BUCKET``. Raises
    StorageConfigurationError naming the variable and the fix.
    """
    backend = storage_backend_name(env)
    if backend == "local":
        return {"BACKEND": LOCAL_STORAGE_CLASS, "OPTIONS": {"location": local_root}}

    bucket = env.get("CENTEROS_STORAGE_BUCKET", "").strip()
    if not bucket:
        raise StorageConfigurationError(
            f"CENTEROS_STORAGE_BUCKET is not set; CENTEROS_STORAGE_BACKEND={backend} "
            "needs the name of the bucket to store files in."
        )
    # Keys are stored under this folder of the bucket, without slashes at
    # either end, so that several installations can share one bucket.
    prefix = env.get("CENTEROS_STORAGE_PREFIX", "").strip().strip("/")

    if backend == "s3":
        return {
            "BACKEND": S3_STORAGE_CLASS,
            "OPTIONS": _s3_options(env, bucket, prefix),
        }
    return {"BACKEND": GCS_STORAGE_CLASS, "OPTIONS": _gcs_options(env, bucket, prefix)}


def storage_backend_name(env: Mapping[str, str]) -> str:
    """Return the validated value of ``CENTEROS_STORAGE_BACKEND`` (default local)."""
    backend = env.get("CENTEROS_STORAGE_BACKEND", "").strip().lower() or "local"
    if backend not in STORAGE_BACKENDS:
        known = ", ".join(STORAGE_BACKENDS)
        raise StorageConfigurationError(
            f"CENTEROS_STORAGE_BACKEND is {backend!r}; set it to one of: {known}."
        )
    return backend


def _s3_options(env: Mapping[str, str], bucket: str, prefix: str) -> dict:
    endpoint_url = env.get("CENTEROS_S3_ENDPOINT_URL", "").strip() or None
    options = {
        "bucket_name": bucket,
        "location": prefix,
        "region_name": env.get("CENTEROS_S3_REGION", "").strip() or None,
        "endpoint_url": endpoint_url,
        # Presigned PUTs bound to a content length need Signature Version 4.
        "signature_version": "s3v4",
        # Private objects: reads go through presigned GETs, never public URLs.
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    # MinIO and most other S3-compatible servers serve buckets as a path,
    # not as a host name under the endpoint.
    if endpoint_url:
        options["addressing_style"] = "path"

    # Without explicit keys boto3 uses its standard chain: AWS_ACCESS_KEY_ID
    # and AWS_SECRET_ACCESS_KEY, a profile, or an instance role.
    access_key = env.get("CENTEROS_S3_ACCESS_KEY_ID", "").strip()
    secret_key = env.get("CENTEROS_S3_SECRET_ACCESS_KEY", "").strip()
    if bool(access_key) != bool(secret_key):
        raise StorageConfigurationError(
            "Set both CENTEROS_S3_ACCESS_KEY_ID and CENTEROS_S3_SECRET_ACCESS_KEY, "
            "or neither to use the standard AWS credential chain."
        )
    if access_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
    return options


def _gcs_options(env: Mapping[str, str], bucket: str, prefix: str) -> dict:
    options = {
        "bucket_name": bucket,
        "location": prefix,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    project_id = env.get("CENTEROS_GCS_PROJECT_ID", "").strip()
    if project_id:
        options["project_id"] = project_id

    # V4 signing needs a private key: either a service-account key file
    # named here, or Application Default Credentials with the IAM signBlob
    # permission when no file is given.
    credentials_file = env.get("CENTEROS_GCS_CREDENTIALS_FILE", "").strip()
    if credentials_file:
        options["credentials"] = _gcs_credentials(credentials_file)
    else:
        options["iam_sign_blob"] = True
    return options


def _gcs_credentials(path: str):
    """Load service-account credentials from the key file at ``path``."""
    try:
        from google.oauth2 import service_account
    except ImportError:
        raise StorageConfigurationError(
            "CENTEROS_STORAGE_BACKEND=gcs needs google-cloud-storage; install "
            "django-storages[google]."
        )
    try:
        return service_account.Credentials.from_service_account_file(path)
    except (OSError, ValueError) as error:
        raise StorageConfigurationError(
            f"CENTEROS_GCS_CREDENTIALS_FILE {path!r} could not be read as a "
            f"service-account key ({error}); give the path of a JSON key file."
        )
