"""Signed uploads over real HTTP, against the live test server."""

import hashlib
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from datasets.models import Dataset
from tests.datasets.conftest import hdf5_expectations

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CHUNK = 8 * 1024


def read_in_chunks(path):
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@pytest.fixture
def api(live_server, settings, make_token, org):
    settings.CENTEROS_PUBLIC_URL = live_server.url
    token = make_token(
        role="operator", scopes=["datasets:read", "datasets:write"], org=org
    )
    client = httpx.Client(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )

    def action(name, params):
        return client.post(f"/api/actions/{name}", json={"params": params})

    yield action
    client.close()


def test_live_upload_confirm_and_delete(api, demo_path, _storage_root):
    size = demo_path.stat().st_size
    digest = hashlib.sha256(demo_path.read_bytes()).hexdigest()
    expected = hdf5_expectations(demo_path)

    signed = api(
        "get_upload_signed_url",
        {"filename": "demo.hdf5", "file_size": size, "sha256": digest},
    ).json()["data"]
    put = httpx.put(
        signed["upload_url"],
        content=read_in_chunks(demo_path),
        headers={**signed["headers"], "Content-Length": str(size)},
        timeout=30,
    )
    assert put.status_code == 200, put.text
    assert put.json()["data"]["sha256"] == digest

    confirmed = api("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert confirmed.status_code == 200, confirmed.text
    data = confirmed.json()["data"]
    assert data["status"] == "ready"
    assert data["episode_count"] == expected["episodes"]
    assert data["frame_count"] == expected["frames"]
    assert data["metadata"]["action_dim"] == expected["action_dim"]
    assert data["metadata"]["observation_dim"] == expected["observation_dim"]
    stored = _storage_root / Dataset.objects.get(pk=signed["dataset_id"]).storage_key
    assert stored.read_bytes() == demo_path.read_bytes()

    deleted = api("delete_dataset", {"dataset_id": signed["dataset_id"]})
    assert deleted.status_code == 200, deleted.text
    assert not stored.exists()
    assert not Dataset.objects.filter(pk=signed["dataset_id"]).exists()


def test_live_chunked_upload_is_411(api):
    signed = api("get_upload_signed_url", {"filename": "a.bin", "file_size": 3}).json()

    put = httpx.put(
        signed["data"]["upload_url"], content=iter([b"a", b"bc"]), timeout=30
    )

    assert put.status_code == 411
    assert put.json()["ok"] is False


def test_live_short_body_stores_nothing(api, _storage_root):
    signed = api(
        "get_upload_signed_url", {"filename": "a.bin", "file_size": 100_000}
    ).json()["data"]
    url = urlsplit(signed["upload_url"])

    # Announce 100 000 bytes, send 1 000, then end the request body.
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        conn.sendall(
            f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Length: 100000\r\nConnection: close\r\n\r\n".encode()
            + b"x" * 1000
        )
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk

    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"upload_incomplete" in reply
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.status == "pending_upload"
    assert dataset.sha256 == ""
    assert [path for path in _storage_root.rglob("*") if path.is_file()] == []
