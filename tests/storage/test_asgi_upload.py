"""Signed uploads through the ASGI application, which streams the body to storage."""

import hashlib

import pytest
from asgiref.testing import ApplicationCommunicator

from centeros.asgi import application
from datasets.models import Dataset
from tests.datasets.conftest import upload_path

pytestmark = pytest.mark.django_db(transaction=True)


def put_scope(path: str, headers: dict) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def send_request(path, headers, chunks, *, disconnect=False):
    """Send ``chunks`` as the body; return (status, JSON body as bytes)."""
    communicator = ApplicationCommunicator(application, put_scope(path, headers))
    for index, chunk in enumerate(chunks):
        more = index < len(chunks) - 1 or disconnect
        await communicator.send_input(
            {"type": "http.request", "body": chunk, "more_body": more}
        )
    if disconnect:
        await communicator.send_input({"type": "http.disconnect"})
    start = await communicator.receive_output(timeout=30)
    body = await communicator.receive_output(timeout=30)
    await communicator.wait(timeout=5)
    return start["status"], body["body"]


def signed_for(call, content: bytes) -> dict:
    result = call(
        "get_upload_signed_url", {"filename": "a.bin", "file_size": len(content)}
    )
    assert result.status == 200, result.body
    return result.data


def test_streamed_upload_is_stored(call, _storage_root):
    from asgiref.sync import async_to_sync

    content = bytes(range(256)) * 40_000
    signed = signed_for(call, content)
    chunks = [content[i : i + 65536] for i in range(0, len(content), 65536)]

    status, body = async_to_sync(send_request)(
        upload_path(signed["upload_url"]),
        {
            "Content-Length": str(len(content)),
            "Content-Type": "application/octet-stream",
        },
        chunks,
    )

    assert status == 200, body
    dataset = Dataset.objects.get(pk=signed["dataset_id"])
    assert dataset.sha256 == hashlib.sha256(content).hexdigest()
    assert (_storage_root / dataset.storage_key).read_bytes() == content


def test_streamed_upload_disconnect_stores_nothing(call, _storage_root):
    from asgiref.sync import async_to_sync

    content = b"x" * 100_000
    signed = signed_for(call, content)

    status, body = async_to_sync(send_request)(
        upload_path(signed["upload_url"]),
        {"Content-Length": str(len(content))},
        [content[:1000]],
        disconnect=True,
    )

    assert status == 400
    assert b"upload_incomplete" in body
    assert Dataset.objects.get(pk=signed["dataset_id"]).sha256 == ""
    assert [path for path in _storage_root.rglob("*") if path.is_file()] == []


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 411, b"length_required"),
        (
            {"Content-Length": "3", "Transfer-Encoding": "chunked"},
            411,
            b"length_required",
        ),
        ({"Content-Length": "abc"}, 400, b"invalid"),
        ({"Content-Length": "4"}, 400, b"size_mismatch"),
    ],
)
def test_streamed_upload_header_checks(call, headers, status, code):
    from asgiref.sync import async_to_sync

    signed = signed_for(call, b"abc")

    got_status, body = async_to_sync(send_request)(
        upload_path(signed["upload_url"]), headers, [b"abc"]
    )

    assert got_status == status
    assert code in body


def test_streamed_upload_tampered_token_is_403(call):
    from asgiref.sync import async_to_sync

    signed = signed_for(call, b"abc")
    path = upload_path(signed["upload_url"])
    tampered = path[:-2] + ("A" if path[-2] != "A" else "B") + path[-1]

    status, body = async_to_sync(send_request)(
        tampered, {"Content-Length": "3"}, [b"abc"]
    )

    assert status == 403
    assert b"invalid_upload_url" in body


def test_large_body_elsewhere_is_413_before_reading(settings):
    from asgiref.sync import async_to_sync

    settings.CENTEROS_MAX_REQUEST_BODY = 1000
    scope = put_scope("/api/actions/whoami", {"Content-Length": "5000000000"})
    scope["method"] = "POST"

    async def run():
        communicator = ApplicationCommunicator(application, scope)
        start = await communicator.receive_output(timeout=10)
        body = await communicator.receive_output(timeout=10)
        await communicator.wait(timeout=5)
        return start["status"], body["body"]

    status, body = async_to_sync(run)()
    assert status == 413
    assert b"payload_too_large" in body


def test_receive_stream_waits_for_a_slow_reader():
    import asyncio

    from datasets.asgi_uploads import ReceiveStream

    messages = [bytes([index]) * 1000 for index in range(200)]

    async def run():
        pending = list(messages)

        async def receive():
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}

        stream = ReceiveStream(receive, asyncio.get_running_loop(), buffer_limit=3000)
        stream.start()
        try:
            chunks = []
            while True:
                chunk = await asyncio.to_thread(stream.read, 4096)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            stream.stop()
        return chunks, stream._buffered

    chunks, buffered = asyncio.run(run())
    assert b"".join(chunks) == b"".join(messages)
    assert all(len(chunk) == 4096 for chunk in chunks[:-1])
    assert buffered == 0
