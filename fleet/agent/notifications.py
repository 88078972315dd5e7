"""Wake-ups of waiting command channels when a robot's command queue changes.

Services call :func:`robot_commands_changed` inside their transaction. On
PostgreSQL it runs ``pg_notify``, which the database delivers when the
transaction commits, to every server process that listens (see
:mod:`fleet.agent.listener`). On every backend it also wakes the waiting
requests of this process after the commit. Processes on SQLite have no
cross-process signal, so their channel requests poll the queue instead
(``CENTEROS_AGENT_POLL_MS``).
"""

import asyncio
import logging
import threading

from django.db import connection, transaction

logger = logging.getLogger(__name__)

# The PostgreSQL notification channel; the payload is the robot's primary key.
NOTIFY_CHANNEL = "centeros_robot_commands"


class CommandWaiters:
    """The asyncio events of channel requests waiting for a robot's commands.

    Events are registered and set on the event loop of the ASGI server; other
    threads (sync services, the listener) wake them with
    :meth:`wake_threadsafe`.
    """

    def __init__(self):
        self._events: dict[int, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def register(self, robot_pk: int) -> asyncio.Event:
        """Return a new event set whenever the robot's queue changes."""
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._events.setdefault(robot_pk, set()).add(event)
        return event

    def unregister(self, robot_pk: int, event: asyncio.Event) -> None:
        events = self._events.get(robot_pk)
        if events is None:
            return
        events.discard(event)
        if not events:
            del self._events[robot_pk]

    def wake(self, robot_pk: int) -> None:
        """Set every waiting event of the robot; call on the event loop."""
        for event in self._events.get(robot_pk, ()):
            event.set()

    def wake_threadsafe(self, robot_pk: int) -> None:
        """Schedule :meth:`wake` on the event loop from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.wake, robot_pk)
        except RuntimeError:
            # The loop closed between the check and the call (server shutdown).
            pass

    def wake_all(self) -> None:
        """Set every waiting event; call on the event loop."""
        for robot_pk in list(self._events):
            self.wake(robot_pk)


waiters = CommandWaiters()


def robot_commands_changed(robot_pk: int) -> None:
    """Wake the robot's command channel once the current transaction commits.

    Call it after queueing, cancelling or releasing a command for the robot.
    Outside a transaction the wake-up is immediate.
    """
    if connection.vendor == "postgresql":
        # NOTIFY is transactional: PostgreSQL delivers it at COMMIT and drops
        # it on ROLLBACK, so a listener is never woken for a command that is not there.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(robot_pk)])
    transaction.on_commit(lambda: waiters.wake_threadsafe(robot_pk))
