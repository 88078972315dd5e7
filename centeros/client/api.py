"""HTTP client of the CenterOS REST API.

``CenterOSClient`` wraps the action layer (``GET /api/actions``,
``POST /api/actions/{name}``), the JWT endpoints under ``/api/auth/`` and the
signed-URL dataset upload. It imports no server code, so it runs wherever
httpx does.

Retries: a request that fails to connect, or whose connection breaks, is
retried with exponential backoff only when repeating it cannot change
anything on the server, that is for GET requests and for actions whose
``risk`` is ``read``. Writes are sent once, because a write whose response
was lost may already have been applied.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from centeros import __version__
from centeros.client.config import (
    TOKEN_ENV,
    CredentialStore,
    PendingUploads,
    login_entry,
    resolve_base_url,
)
from centeros.client.errors import (
    APIError,
    ConfigError,
    ConnectionFailed,
    Unauthorized,
    error_for_status,
)

logger = logging.getLogger(__name__)

ACTION_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,99}$")

# A saved access token this close to its expiry is refreshed before use, so
# a request does not race the expiry on the way to the server.
REFRESH_MARGIN_SECONDS = 30

# Backoff between retries: 0.5 s, 1 s, 2 s, ... capped, with 20 % jitter so
# that many clients restarted together do not retry in lockstep.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0


class TokenSource:
    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    SAVED_LOGIN = "saved login"


@dataclass
class ActionResult:
    """The ``data`` of a successful action call and its ``meta`` (lists only)."""

    data: Any
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"data": self.data}
        if self.meta:
            result["meta"] = self.meta
        return result


def check_action_name(name: str) -> str:
    if not isinstance(name, str) or not ACTION_NAME_PATTERN.match(name):
        raise ValueError(
            f"Invalid action name {name!r}: action names are lowercase words "
            "joined by underscores, such as list_datasets."
        )
    return name


class CenterOSClient:
    """Client of one CenterOS server.

    ``base_url`` defaults to CENTEROS_API_URL, then http://127.0.0.1:8000.
    ``token`` defaults to CENTEROS_TOKEN, then to the login saved for this
    server by ``login()``. ``timeout`` is in seconds per network operation;
    ``retries`` is the number of extra attempts for idempotent requests.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        *,
        credentials: CredentialStore | None = None,
    ):
        if timeout <= 0:
            raise ConfigError(
                f"timeout must be a positive number of seconds, got {timeout!r}."
            )
        if retries < 0:
            raise ConfigError(f"retries must be 0 or more, got {retries!r}.")

        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.retries = retries
        self.credentials = credentials or CredentialStore()
        self._risk_by_action: dict[str, str] = {}

        # Token precedence: the argument, then CENTEROS_TOKEN, then the login
        # saved for this server. Only a saved login can be refreshed.
        self.token: str | None
        self.token_source: str | None
        if token:
            self.token, self.token_source = token, TokenSource.ARGUMENT
        elif os.environ.get(TOKEN_ENV):
            self.token, self.token_source = (
                os.environ[TOKEN_ENV],
                TokenSource.ENVIRONMENT,
            )
        else:
            entry = self.credentials.get(self.base_url)
            if entry and entry.get("access_token"):
                self.token, self.token_source = (
                    entry["access_token"],
                    TokenSource.SAVED_LOGIN,
                )
            else:
                self.token, self.token_source = None, None

        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={
                "User-Agent": f"centeros-client/{__version__}",
                "Accept": "application/json",
            },
        )

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CenterOSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- authentication ----------------------------------------------------

    def login(
        self, username: str, password: str, org: str | None = None, *, save: bool = True
    ) -> dict[str, Any]:
        """Log in with a username and password and return the login response.

        With ``save`` the tokens are stored for this server URL, and later
        clients without an explicit token or CENTEROS_TOKEN use them.
        """
        if not username or not password:
            raise ValueError("Give both a username and a password to log in.")

        payload: dict[str, Any] = {"username": username, "password": password}
        if org:
            payload["org"] = str(org)
        body = self._request(
            "POST",
            "/api/auth/login",
            json=payload,
            authenticate=False,
            idempotent=False,
        )

        if save:
            self.credentials.save(self.base_url, login_entry(body))
        if self.token_source in (None, TokenSource.SAVED_LOGIN):
            self.token, self.token_source = (
                body["access_token"],
                TokenSource.SAVED_LOGIN,
            )
        logger.info(
            "Logged in to %s as user %s", self.base_url, body.get("user", {}).get("id")
        )
        return body

    def refresh(self) -> dict[str, Any]:
        """Exchange the saved refresh token for a new token pair and save it.

        Refresh tokens rotate: the old one stops working, so the new pair is
        saved before this method returns.
        """
        with self.credentials.locked():
            return self._refresh_saved_login()

    def _refresh_saved_login(self) -> dict[str, Any]:
        entry = self.credentials.get(self.base_url) or {}
        refresh_token = entry.get("refresh_token")
        if not refresh_token:
            raise Unauthorized(
                401,
                f"There is no saved login for {self.base_url}; run 'centeros login'.",
                "not_authenticated",
            )

        body = self._request(
            "POST",
            "/api/auth/refresh",
            json={"refresh_token": refresh_token},
            authenticate=False,
            idempotent=False,
        )
        self.credentials.save(self.base_url, login_entry(body))
        if self.token_source in (None, TokenSource.SAVED_LOGIN):
            self.token, self.token_source = (
                body["access_token"],
                TokenSource.SAVED_LOGIN,
            )
        logger.info("Refreshed the saved login for %s", self.base_url)
        return body

    def logout(self) -> bool:
        """Revoke the saved refresh token on the server and forget the login.

        Returns True when the server revoked the token, False when there was
        nothing to revoke or the server no longer accepted it. The saved
        login is deleted in every case.
        """
        entry = self.credentials.get(self.base_url) or {}
        refresh_token = entry.get("refresh_token")
        revoked = False
        try:
            if refresh_token:
                self._request(
                    "POST",
                    "/api/auth/logout",
                    json={"refresh_token": refresh_token},
                    authenticate=False,
                    idempotent=False,
                )
                revoked = True
        except Unauthorized as error:
            logger.info("The server no longer accepted the refresh token: %s", error)
        finally:
            self.credentials.delete(self.base_url)
            if self.token_source == TokenSource.SAVED_LOGIN:
                self.token, self.token_source = None, None
        return revoked

    def _maybe_refresh_before_request(self) -> None:
        if self.token_source != TokenSource.SAVED_LOGIN:
            return
        entry = self.credentials.get(self.base_url) or {}
        expires_at = entry.get("expires_at")
        if not entry.get("refresh_token") or not isinstance(expires_at, int | float):
            return
        if expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return
        self._refresh_after_rejection(self.token)

    def _refresh_after_rejection(self, rejected_token: str | None) -> bool:
        """Refresh the saved login once the server rejected ``rejected_token``.

        Another process may have refreshed already: then the saved access
        token differs from the rejected one and is used as it is, because
        refreshing again with a spent refresh token would fail.
        """
        with self.credentials.locked():
            entry = self.credentials.get(self.base_url) or {}
            saved = entry.get("access_token")
            if saved and saved != rejected_token:
                self.token = saved
                return True
            if not entry.get("refresh_token"):
                return False
            try:
                self._refresh_saved_login()
            except Unauthorized as error:
                logger.info("Refreshing the saved login failed: %s", error)
                return False
            return True

    # -- actions -----------------------------------------------------------

    def list_actions(self, category: str | None = None) -> list[dict[str, Any]]:
        """Return the actions this client's token may run (all without a token)."""
        params = {"category": category} if category else None
        body = self._request("GET", "/api/actions", params=params, idempotent=True)
        actions = body.get("data") or []
        for described in actions:
            self._remember_risk(described)
        return actions

    def describe_action(self, name: str) -> dict[str, Any]:
        check_action_name(name)
        body = self._request("GET", f"/api/actions/{quote(name)}", idempotent=True)
        described = body.get("data") or {}
        self._remember_risk(described)
        return described

    def call(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Run an action and return its ``data``."""
        return self.call_with_meta(name, params).data

    def call_with_meta(
        self, name: str, params: dict[str, Any] | None = None
    ) -> ActionResult:
        """Run an action and return its ``data`` with its ``meta``."""
        check_action_name(name)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise TypeError(
                f"params must be a dict of parameter names to values, got "
                f"{type(params).__name__}."
            )

        risk = self._risk_by_action.get(name)
        body = self._request(
            "POST",
            f"/api/actions/{quote(name)}",
            json={"params": params},
            idempotent=None if risk is None else risk == "read",
            action=name,
        )
        meta = body.get("meta")
        return ActionResult(body.get("data"), meta if isinstance(meta, dict) else {})

    def remember_actions(self, actions: list[dict[str, Any]]) -> None:
        """Record the risk of already known actions (from a cached listing)."""
        for described in actions:
            self._remember_risk(described)

    def _remember_risk(self, described: dict[str, Any]) -> None:
        if isinstance(described, dict) and described.get("name"):
            self._risk_by_action[described["name"]] = str(described.get("risk", ""))

    def _action_is_read_only(self, name: str) -> bool:
        """Look up an action's risk after a connection error on its call.

        The lookup is tried once, without retries: when the server is down
        it fails at once and the call is reported as failed, rather than
        waiting through a backoff only to learn that a write must not be
        retried anyway.
        """
        if name not in self._risk_by_action:
            try:
                response = self._http.get(f"/api/actions/{quote(name)}")
                described = response.json().get("data")
            except (httpx.TransportError, ValueError, AttributeError) as error:
                logger.info("Could not look up the risk of action %s: %s", name, error)
                return False
            self._remember_risk(described or {})
        return self._risk_by_action.get(name) == "read"

    # -- uploads -----------------------------------------------------------

    def upload_file(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        dataset_id: int | None = None,
        pending: PendingUploads | None = None,
    ):
        """Upload a dataset file through a signed URL and confirm it.

        Returns an ``UploadResult`` whose ``dataset`` is the confirmed
        dataset with its inspected metadata. ``progress(sent, total)`` is
        called as bytes go out. With ``pending`` the started upload is
        remembered, and a second call for the same unchanged file reuses its
        dataset instead of creating another.
        """
        from centeros.client.uploads import upload_dataset_file

        return upload_dataset_file(
            self,
            Path(path),
            name=name,
            progress=progress,
            dataset_id=dataset_id,
            pending=pending,
        )

    def put_signed(
        self,
        url: str,
        *,
        headers: dict[str, str],
        content: Any,
        size: int,
    ) -> httpx.Response:
        """PUT ``content`` to a signed upload URL, without this client's token.

        The URL itself authorises the upload; the Bearer token is never sent
        along, since the URL may point at a storage service. Not retried: the
        body is a stream that has been consumed once it was sent.
        """
        request_headers = {str(k): str(v) for k, v in (headers or {}).items()}
        request_headers["Content-Length"] = str(size)
        request_headers.pop("Authorization", None)
        try:
            response = self._http.request(
                "PUT", url, headers=request_headers, content=content
            )
        except httpx.TransportError as error:
            origin = httpx.URL(url)
            raise ConnectionFailed(
                f"{origin.scheme}://{origin.netloc.decode()}",
                _reason(error),
                maybe_sent=_maybe_sent(error),
            )
        if response.status_code >= 400:
            raise error_for_status(
                response.status_code,
                _decode(response),
                request_id=response.headers.get("X-Request-ID", ""),
            )
        return response

    # -- transport ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        authenticate: bool = True,
        idempotent: bool | None,
        action: str | None = None,
    ) -> dict[str, Any]:
        """Send one API request and return its decoded JSON body.

        ``idempotent`` None means not yet known: after a connection error the
        action's risk is looked up, and the call is retried only if it is
        ``read``. A 401 on a saved login triggers one refresh and one resend.
        """
        if authenticate:
            self._maybe_refresh_before_request()

        refreshed = False
        while True:
            used_token = self.token if authenticate else None
            response = self._send_with_retries(
                method,
                path,
                json=json,
                params=params,
                token=used_token,
                idempotent=idempotent,
                action=action,
            )
            if (
                response.status_code == 401
                and used_token
                and not refreshed
                and self.token_source == TokenSource.SAVED_LOGIN
            ):
                refreshed = True
                if self._refresh_after_rejection(used_token):
                    logger.info(
                        "Resending %s %s with the refreshed login", method, path
                    )
                    continue
            return self._decode_response(response)

    def _send_with_retries(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: dict[str, Any] | None,
        token: str | None,
        idempotent: bool | None,
        action: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        attempt = 0
        while True:
            try:
                return self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as error:
                reason = _reason(error)
                if idempotent is None and action is not None:
                    idempotent = self._action_is_read_only(action)
                if not idempotent or attempt >= self.retries:
                    logger.info(
                        "%s %s failed after %d attempt(s): %s",
                        method,
                        path,
                        attempt + 1,
                        reason,
                    )
                    raise ConnectionFailed(
                        self.base_url, reason, maybe_sent=_maybe_sent(error)
                    )

                delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
                delay *= random.uniform(0.8, 1.2)
                attempt += 1
                logger.warning(
                    "%s %s failed (%s); retry %d of %d in %.1f s",
                    method,
                    path,
                    reason,
                    attempt,
                    self.retries,
                    delay,
                )
                time.sleep(delay)

    def _decode_response(self, response: httpx.Response) -> dict[str, Any]:
        body = _decode(response)
        request_id = response.headers.get("X-Request-ID", "")
        if response.status_code >= 400:
            retry_after = _retry_after(response)
            raise error_for_status(
                response.status_code,
                body,
                request_id=request_id,
                retry_after=retry_after,
            )
        if not isinstance(body, dict):
            raise APIError(
                response.status_code,
                f"The server at {self.base_url} did not return a JSON object; "
                "check that CENTEROS_API_URL points at a CenterOS server.",
                "invalid_response",
                request_id=request_id,
            )
        if body.get("ok") is False:
            raise error_for_status(response.status_code, body, request_id=request_id)
        return body


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _maybe_sent(error: httpx.TransportError) -> bool:
    # Only a failed connect proves that the request never left this process.
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def _reason(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]
