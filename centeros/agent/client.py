"""HTTP calls of the agent protocol, version 1 (``/api/agent/v1/``).

Each method makes one request and raises :class:`AgentError` for an error
response and ``httpx.HTTPError`` for a transport failure, so the caller
decides about retries. The robot token goes only to the CenterOS server:
artifact downloads use a separate client without it, because the signed URL
is its own credential (and may point at a storage service).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

API_PREFIX = "/api/agent/v1"
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
# Extra seconds beyond the long-poll wait before the client gives up on a
# channel request, to absorb server and network delays.
POLL_GRACE_SECONDS = 10.0


class AgentError(Exception):
    """An error response of the server, with its HTTP status and code."""

    def __init__(self, status: int, detail: str, code: str = ""):
        super().__init__(f"HTTP {status} ({code}): {detail}")
        self.status = status
        self.detail = detail
        self.code = code


class ChecksumMismatch(Exception):
    """The downloaded artifact's SHA-256 is not the expected one."""


class AgentClient:
    """The agent protocol over one keep-alive HTTP connection pool."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0):
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.api_url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self._downloads = httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._http.close()
        self._downloads.close()

    def heartbeat(self, report: dict) -> dict:
        return self._data(self._http.post("/heartbeat", json=report))

    def commands(self, *, wait: float) -> list[dict]:
        """Return the queued commands, waiting up to ``wait`` seconds for one."""
        response = self._http.get(
            "/commands",
            params={"wait": wait},
            timeout=httpx.Timeout(10.0, read=wait + POLL_GRACE_SECONDS),
        )
        return self._data(response)["commands"]

    def acknowledge(self, command_id: int, *, succeeded: bool, message: str) -> dict:
        body = {"status": "succeeded" if succeeded else "failed", "message": message}
        return self._data(self._http.post(f"/commands/{command_id}/ack", json=body))

    def download(
        self, url: str, destination: Path, *, sha256: str, should_stop=None
    ) -> int:
        """Download ``url`` to ``destination`` and verify its SHA-256.

        Writes to a temporary file beside ``destination`` and renames it
        into place only after the checksum matches, so a broken download
        never replaces a good file. ``should_stop`` is polled between chunks;
        when it returns True the download is abandoned with InterruptedError.
        Returns the number of bytes. Raises ChecksumMismatch and
        ``httpx.HTTPError``.
        """
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        digest = hashlib.sha256()
        size = 0
        try:
            with self._downloads.stream("GET", url) as response:
                response.raise_for_status()
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                        if should_stop is not None and should_stop():
                            raise InterruptedError("download stopped")
                        digest.update(chunk)
                        handle.write(chunk)
                        size += len(chunk)
            if sha256 and digest.hexdigest() != sha256.lower():
                raise ChecksumMismatch(
                    f"The artifact's SHA-256 is {digest.hexdigest()}, expected {sha256}."
                )
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
        return size

    @staticmethod
    def _data(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or not body.get("ok"):
            raise AgentError(
                response.status_code,
                str(body.get("detail") or response.text[:200]),
                str(body.get("code", "")),
            )
        return body["data"]
