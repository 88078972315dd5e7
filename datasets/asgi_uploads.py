"""Serve signed upload PUTs under ASGI by streaming the body straight to storage.

Django 5.2's ASGI handler reads the whole request body into a temporary file
before any view runs, so a 2 GiB upload would be written to disk twice.
:class:`UploadStreamingApp` wraps the Django application: a ``PUT`` to
``/api/uploads/<token>`` is checked with the same function as the WSGI view
(:func:`datasets.views.check_upload_request`) and stored by the same service,
which reads the body in chunks as it arrives. Every other request goes to
Django unchanged.

Django middleware does not run for these requests. Errors are logged with
the dataset id, never the token.
"""

import asyncio
import json
import logging
import queue
import threading

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

from datasets.views import UploadRejected, check_upload_request, store_upload

logger = logging.getLogger(__name__)

UPLOAD_PATH_PREFIX = "/api/uploads/"


class ReceiveStream:
    """A blocking ``read()`` over the ASGI body messages of one request.

    A pump task on the event loop receives body messages as fast as they
    arrive and queues them for the worker thread that calls ``read()``.
    Receiving goes on while the thread hashes and writes, because uvicorn
    stops reading the socket whenever the application does not ask for the
    next message. At most about ``buffer_limit`` bytes wait between the two.
    A client disconnect ends the stream early, which the service reports as
    an incomplete upload.
    """

    PIECE_SIZE = 1024 * 1024

    def __init__(
        self, receive, loop: asyncio.AbstractEventLoop, buffer_limit: int = 8 * 1024**2
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._buffer_limit = buffer_limit
        self._pieces: queue.SimpleQueue = queue.SimpleQueue()
        self._buffered = 0
        self._pump_waiting = False
        self._lock = threading.Lock()
        self._space = asyncio.Event()
        self._leftover = b""
        self._ended = False
        self._pump_task: asyncio.Task | None = None

    def start(self) -> None:
        """Start receiving; call on the event loop before ``read()``."""
        self._pump_task = self._loop.create_task(self._pump())

    def stop(self) -> None:
        """Stop receiving; call on the event loop when the reader is done."""
        if self._pump_task is not None and not self._pump_task.done():
            self._pump_task.cancel()

    async def _pump(self) -> None:
        # Messages are joined into pieces of about PIECE_SIZE bytes, so the
        # two threads hand over a piece per megabyte, not per message.
        bodies: list[bytes] = []
        count = 0
        try:
            while True:
                message = await self._receive()
                if message["type"] != "http.request":
                    break
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if body:
                    bodies.append(body)
                    count += len(body)
                if bodies and (count >= self.PIECE_SIZE or not more):
                    await self._put(bodies[0] if len(bodies) == 1 else b"".join(bodies))
                    bodies, count = [], 0
                if not more:
                    break
        finally:
            # The end marker, also after a disconnect or cancellation.
            self._pieces.put(None)

    async def _put(self, body: bytes) -> None:
        while True:
            with self._lock:
                if self._buffered < self._buffer_limit:
                    self._buffered += len(body)
                    break
                # Cleared before waiting: the reader's wake-up is scheduled
                # with call_soon_threadsafe, so it runs after this.
                self._pump_waiting = True
                self._space.clear()
            await self._space.wait()
        self._pieces.put(body)

    def _taken(self, size: int) -> None:
        with self._lock:
            self._buffered -= size
            wake = self._pump_waiting and self._buffered < self._buffer_limit
            if wake:
                self._pump_waiting = False
        # Waking the loop costs a system call, so only a waiting pump is woken.
        if wake:
            self._loop.call_soon_threadsafe(self._space.set)

    def read(self, size: int = -1) -> bytes:
        parts = [self._leftover] if self._leftover else []
        count = len(self._leftover)
        self._leftover = b""
        while not self._ended and (size < 0 or count < size):
            piece = self._pieces.get()
            if piece is None:
                self._ended = True
                break
            self._taken(len(piece))
            parts.append(piece)
            count += len(piece)

        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if 0 <= size < len(data):
            self._leftover = data[size:]
            data = data[:size]
        return data


class UploadStreamingApp:
    """ASGI application: upload PUTs handled here, everything else by Django."""

    def __init__(self, django_application) -> None:
        self.django_application = django_application

    async def __call__(self, scope, receive, send) -> None:
        token = self._upload_token(scope)
        if token is not None:
            await self._handle_upload(scope, token, receive, send)
            return
        if scope["type"] == "http" and await self._reject_large_body(scope, send):
            return
        await self.django_application(scope, receive, send)

    @staticmethod
    async def _reject_large_body(scope, send) -> bool:
        """Send 413 for a declared body over the request limit.

        Django's ASGI handler spools a whole body to disk before any view
        or authentication runs, so an anonymous client could otherwise make
        the server write gigabytes. Dataset files never come this way: they
        use the signed upload path above.
        """
        limit = settings.CENTEROS_MAX_REQUEST_BODY
        for name, value in scope["headers"]:
            if name.lower() != b"content-length":
                continue
            try:
                declared = int(value)
            except ValueError:
                return False
            if declared <= limit:
                return False
            logger.info(
                "Rejected a %s-byte body for %s (limit %s)",
                declared,
                scope["path"][:100],
                limit,
            )
            await _send_json(
                send,
                413,
                {
                    "ok": False,
                    "detail": f"The request body is {declared} bytes, over the "
                    f"limit of {limit} bytes; upload files through a signed "
                    "upload URL.",
                    "code": "payload_too_large",
                },
            )
            return True
        return False

    @staticmethod
    def _upload_token(scope) -> str | None:
        """Return the token of an upload PUT, or None for any other request."""
        if scope["type"] != "http" or scope["method"] != "PUT":
            return None
        path = scope["path"]
        if not path.startswith(UPLOAD_PATH_PREFIX):
            return None
        token = path[len(UPLOAD_PATH_PREFIX) :]
        # Other shapes are left to Django's URL resolver, which returns 404.
        if not token or "/" in token:
            return None
        return token

    async def _handle_upload(self, scope, token: str, receive, send) -> None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        try:
            # No database or file access: safe to run on the event loop.
            grant, content_length = check_upload_request(
                method="PUT",
                token=token,
                content_length=headers.get("content-length", ""),
                transfer_encoding=headers.get("transfer-encoding", ""),
            )
        except UploadRejected as rejected:
            await _send_json(
                send,
                rejected.status,
                {"ok": False, "detail": rejected.detail, "code": rejected.code},
                rejected.headers,
            )
            return

        body = ReceiveStream(receive, asyncio.get_running_loop())
        body.start()
        try:
            # A thread of its own, so that a long upload blocks no other request.
            status, payload = await sync_to_async(
                _store_in_thread, thread_sensitive=False
            )(grant=grant, body=body, content_length=content_length)
        finally:
            body.stop()
        await _send_json(send, status, payload)


def _store_in_thread(*, grant, body, content_length: int) -> tuple[int, dict]:
    # The executor's threads are reused, so each upload starts and ends with
    # the connection handling that Django's request signals would give it.
    close_old_connections()
    try:
        return store_upload(grant=grant, body=body, content_length=content_length)
    finally:
        connections.close_all()


async def _send_json(send, status: int, payload: dict, headers=None) -> None:
    content = json.dumps(payload).encode()
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    for name, value in (headers or {}).items():
        response_headers.append((name.lower().encode(), value.encode()))

    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": response_headers,
            }
        )
        await send({"type": "http.response.body", "body": content})
    except OSError:
        # The client went away before the response; the upload's outcome is
        # already logged and stored.
        logger.info("Could not send the upload response (%s): client gone", status)
