"""Endpoints of the agent protocol, version 1, under ``/api/agent/v1/``.

They are async Django views served by the ASGI server (uvicorn), so a robot
waiting on the command channel costs an asyncio task and an event, not a
worker thread. Database work runs in short synchronous calls through
``sync_to_async(thread_sensitive=False)``. Each call closes its connection
(returning it to the pool on PostgreSQL) before the request goes back to
waiting, so no connection is held while a robot waits.

Only robot tokens (``frr_``) authenticate here: a PAT or a user access token
gets 401, as a robot token does on the action layer. Responses use the
action layer's envelope: ``{"ok": true, "data": ...}`` or
``{"ok": false, "detail": ..., "code": ...}``.
"""

import asyncio
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from centeros.actions.handlers import describe_validation, validation_errors
from centeros.actions.parsers import parse_json_text
from centeros.errors import DomainError, PayloadTooLarge
from fleet.agent import services
from fleet.agent.listener import listener_ready, listener_start
from fleet.agent.notifications import waiters
from fleet.agent.protocol import AckSerializer, HeartbeatSerializer, heartbeat_report
from fleet.models import Robot
from fleet.services import robot_authenticate_token

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_BODY_BYTES = 256 * 1024


def _error(status: int, detail: str, *, code: str, errors=None) -> JsonResponse:
    body = {"ok": False, "detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    headers = {"WWW-Authenticate": 'Bearer realm="agent"'} if status == 401 else None
    return JsonResponse(body, status=status, headers=headers)


def _ok(data) -> JsonResponse:
    return JsonResponse({"ok": True, "data": data})


# Deliveries after a wake-up run on their own threads. When many polls time
# out together (every robot reconnecting after a restart, say), their
# re-polls queue on the shared pool, and an emergency stop must not wait
# behind them.
_WAKE_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="agent-wake")

# Each long poll ends up to this fraction of ``wait`` early, so that polls
# that started together drift apart instead of re-polling in bursts.
WAIT_JITTER = 0.1


def _in_thread(function, *, executor: ThreadPoolExecutor | None = None):
    """Run a database function in a pool thread and close its connection after."""

    def run(*args, **kwargs):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=False, executor=executor)


def _bearer(request) -> str | None:
    header = request.headers.get("Authorization", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def _robot_of_token(token: str) -> Robot | None:
    return robot_authenticate_token(token)


def agent_endpoint(view):
    """Authenticate the robot and turn domain errors into JSON responses.

    The view receives the request and the robot. Logs name the robot, never
    the token.
    """

    @wraps(view)
    async def wrapper(request, *args, **kwargs):
        token = _bearer(request)
        if token is None:
            return _error(
                401,
                "Send the robot token as 'Authorization: Bearer frr_...'.",
                code="not_authenticated",
            )
        if not token.startswith("frr_"):
            return _error(
                401,
                "The agent endpoints accept robot tokens (frr_...) only; user "
                "tokens work on /api/actions/.",
                code="not_authenticated",
            )
        robot = await _in_thread(_robot_of_token)(token)
        if robot is None:
            return _error(
                401,
                "The robot token is invalid or was rotated; ask an operator for "
                "the robot's current token.",
                code="not_authenticated",
            )
        try:
            return await view(request, robot, *args, **kwargs)
        except DomainError as error:
            return _error(
                error.status_code, error.detail, code=error.code, errors=error.errors
            )
        except Robot.DoesNotExist:
            # The robot was deleted after its token was checked.
            return _error(
                401,
                "The robot of this token no longer exists.",
                code="not_authenticated",
            )

    return csrf_exempt(wrapper)


def _json_body(request) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The request body is {len(request.body)} bytes; the maximum is "
            f"{MAX_BODY_BYTES}."
        )
    try:
        data = parse_json_text(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as error:
        raise DomainError(f"The request body is not valid JSON: {error}")
    if not isinstance(data, dict):
        raise DomainError("The request body must be a JSON object.")
    return data


def _validated(serializer_class, data: dict) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        errors = validation_errors(serializer.errors)
        raise DomainError(describe_validation(errors), errors=errors)
    return serializer.validated_data


@require_http_methods(["POST"])
@agent_endpoint
async def heartbeat(request, robot: Robot):
    """``POST heartbeat``: record the robot's state and its faults."""
    data = _validated(HeartbeatSerializer, _json_body(request))
    report = heartbeat_report(data)
    outcome = await _in_thread(services.robot_heartbeat_record)(
        robot_pk=robot.pk, report=report
    )
    stored = outcome.robot
    return _ok(
        {
            "robot_id": stored.robot_id,
            "received_at": outcome.heartbeat.received_at.isoformat(),
            "estopped": stored.estopped,
            "mode": stored.mode,
            "opened_alert_ids": outcome.opened_alert_ids,
            "resolved_alert_ids": outcome.resolved_alert_ids,
            "heartbeat_timeout_seconds": settings.CENTEROS_HEARTBEAT_TIMEOUT,
        }
    )


def _wait_seconds(request) -> float:
    raw = request.GET.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    maximum = settings.CENTEROS_AGENT_MAX_WAIT
    if not 0 <= wait <= maximum:
        raise DomainError(
            f"wait={raw[:20]!r} is not a number of seconds from 0 to {maximum}.",
            errors={"wait": [f"From 0 to {maximum} seconds."]},
        )
    return wait


@require_http_methods(["GET"])
@agent_endpoint
async def commands(request, robot: Robot):
    """``GET commands?wait=N``: the robot's queued commands, by long poll.

    Returns at once when commands are queued, else waits up to ``wait``
    seconds for one and returns an empty list when none arrived.
    """
    wait = _wait_seconds(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait * random.uniform(1 - WAIT_JITTER, 1)
    poll_seconds = settings.CENTEROS_AGENT_POLL_MS / 1000
    listener_start()

    # Registered before the first check, so a wake-up between the check and
    # the wait sets the event instead of being lost.
    event = waiters.register(robot.pk)
    woken = False
    try:
        while True:
            event.clear()
            executor = _WAKE_EXECUTOR if woken else None
            delivered = await _in_thread(
                services.robot_commands_deliver, executor=executor
            )(robot_pk=robot.pk)
            remaining = deadline - loop.time()
            if delivered or remaining <= 0:
                break
            # Without a live listener (SQLite, or PostgreSQL reconnecting)
            # another process's command only shows up by polling.
            timeout = remaining if listener_ready() else min(remaining, poll_seconds)
            try:
                await asyncio.wait_for(event.wait(), timeout)
                woken = True
            except TimeoutError:
                woken = False
    finally:
        waiters.unregister(robot.pk, event)
    return _ok({"commands": delivered, "protocol_version": PROTOCOL_VERSION})


@require_http_methods(["POST"])
@agent_endpoint
async def acknowledge(request, robot: Robot, command_id: int):
    """``POST commands/<id>/ack``: the result of a delivered command."""
    data = _validated(AckSerializer, _json_body(request))
    command = await _in_thread(services.robot_command_acknowledge)(
        robot_pk=robot.pk,
        command_id=command_id,
        succeeded=data["status"] == "succeeded",
        message=data["message"],
    )
    return _ok(
        {
            "id": command.pk,
            "kind": command.kind,
            "status": command.status,
            "acked_at": command.acked_at.isoformat(),
        }
    )
