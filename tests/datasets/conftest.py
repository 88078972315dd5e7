"""Fixtures of the dataset tests: the recorded HDF5 demo and upload helpers."""

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import h5py
import pytest

DEMO = "hdf5/robosuite_raw_wipe_panda/demo.hdf5"


def hdf5_expectations(path: Path) -> dict:
    """Read the counts of a robosuite raw demo file with h5py."""
    with h5py.File(path, "r") as handle:
        demos = sorted(handle["data"].keys())
        first = handle["data"][demos[0]]
        return {
            "episodes": len(demos),
            "frames": sum(handle["data"][d]["actions"].shape[0] for d in demos),
            "action_dim": first["actions"].shape[1],
            "observation_dim": first["states"].shape[1],
        }


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def upload_path(url: str) -> str:
    """Return the path part of a signed upload URL, for the test client."""
    return urlsplit(url).path


@pytest.fixture
def demo_path(recorded_data) -> Path:
    return recorded_data / DEMO


@pytest.fixture
def demo_bytes(demo_path) -> bytes:
    return demo_path.read_bytes()


@pytest.fixture
def put_upload(client):
    """PUT ``content`` to a signed upload URL through the Django test client."""

    def put(url: str, content: bytes, **extra):
        return client.put(
            upload_path(url),
            data=content,
            content_type="application/octet-stream",
            **extra,
        )

    return put


@pytest.fixture
def sign(call):
    """Call get_upload_signed_url for ``content`` and return the data."""

    def signed(filename: str, content: bytes, **params):
        result = call(
            "get_upload_signed_url",
            {"filename": filename, "file_size": len(content), **params},
        )
        assert result.status == 200, result.body
        return result.data

    return signed


@pytest.fixture
def uploaded(sign, put_upload):
    """Sign and PUT ``content``; return the signed-URL data."""

    def upload(filename: str, content: bytes, **params):
        signed = sign(filename, content, **params)
        response = put_upload(signed["upload_url"], content)
        assert response.status_code == 200, response.content
        return signed

    return upload
