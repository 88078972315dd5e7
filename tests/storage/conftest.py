"""Fixtures of the storage tests: an S3 server on loopback and S3 settings.

The S3 server is moto's standalone server, started once per session on
127.0.0.1 with a free port. Every test gets a bucket of its own.
"""

import logging
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from datasets.storage_settings import default_storage_entry

S3_ACCESS_KEY = "centeros-test-key"
S3_SECRET_KEY = "centeros-test-secret"


@pytest.fixture(scope="session")
def s3_endpoint():
    """Start moto's S3 server on loopback; return its base URL."""
    # The server's access log would print every presigned URL.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint) -> dict:
    """Return CenterOS storage variables for a new, empty bucket."""
    bucket = f"centeros-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    return {
        "CENTEROS_STORAGE_BACKEND": "s3",
        "CENTEROS_STORAGE_BUCKET": bucket,
        "CENTEROS_STORAGE_PREFIX": "/tenant-a/",
        "CENTEROS_S3_ENDPOINT_URL": s3_endpoint,
        "CENTEROS_S3_REGION": "us-east-1",
        "CENTEROS_S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "CENTEROS_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
    }


@pytest.fixture
def s3_storage(settings, s3_env, _storage_root):
    """Make S3 the default storage and upload backend, as the env configures it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": default_storage_entry(s3_env, local_root=str(_storage_root)),
    }
    settings.CENTEROS_UPLOAD_BACKEND = "s3"
    settings.CENTEROS_STORAGE_BACKEND = "s3"
    return s3_env


@pytest.fixture
def s3_client(s3_env):
    """A boto3 client of the test server, to look at the bucket directly."""
    return boto3.client(
        "s3",
        endpoint_url=s3_env["CENTEROS_S3_ENDPOINT_URL"],
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
    )
