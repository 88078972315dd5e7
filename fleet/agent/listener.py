"""The per-process PostgreSQL listener that wakes waiting command channels.

Each server process keeps one dedicated async psycopg connection in
autocommit mode that runs ``LISTEN centeros_robot_commands``. Every
notification carries a robot's primary key and wakes that robot's waiting
channel requests through :data:`fleet.agent.notifications.waiters`. The
listener starts with the first channel request. While it is not connected
(at start, or after losing the database), :func:`listener_ready` is false and
channel requests fall back to polling, so no wake-up is lost for longer than
one poll interval.
"""

import asyncio
import logging
import random

import psycopg
from django.db import connections

from fleet.agent.notifications import NOTIFY_CHANNEL, waiters

logger = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0

# libpq options of Django's OPTIONS that are not connection parameters.
_NON_LIBPQ_OPTIONS = {
    "pool",
    "isolation_level",
    "server_side_binding",
    "assume_role",
    "cursor_factory",
    "context",
    "prepare_threshold",
}


class _Listener:
    def __init__(self):
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name="centeros-command-listener"
            )

    async def _run(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as error:
                self.ready.clear()
                logger.warning(
                    "Command listener lost its database connection (%s); "
                    "retrying in %.1f s, channels poll meanwhile",
                    error,
                    delay,
                )
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            else:
                delay = RECONNECT_MIN_SECONDS

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            **_connection_kwargs(), autocommit=True
        ) as conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.ready.set()
            logger.info("Command listener is listening on %s", NOTIFY_CHANNEL)
            # Wake every waiter once: a notification sent while the listener
            # was away would otherwise wait for the next poll.
            waiters.wake_all()
            async for notify in conn.notifies():
                try:
                    robot_pk = int(notify.payload)
                except ValueError:
                    logger.warning(
                        "Ignored a notification with payload %r", notify.payload[:40]
                    )
                    continue
                waiters.wake(robot_pk)


def _connection_kwargs() -> dict:
    database = connections["default"].settings_dict
    kwargs = {
        "dbname": database["NAME"],
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
    }
    for name, value in database.get("OPTIONS", {}).items():
        if name not in _NON_LIBPQ_OPTIONS:
            kwargs[name] = value
    return {name: value for name, value in kwargs.items() if value is not None}


_listener = _Listener()


def listener_start() -> None:
    """Start this process's listener on PostgreSQL; call on the event loop."""
    if connections["default"].vendor == "postgresql":
        _listener.start()


def listener_ready() -> bool:
    """Return True while notifications reach this process."""
    return _listener.ready.is_set()
