"""The simulated robot: motion, heartbeats and the command loop.

A :class:`SimulatedRobot` runs four daemon threads:

- motion: moves the simulated pose while the robot is not stopped;
- heartbeat: posts battery, pose, versions, idleness and faults;
- channel: long-polls the command channel and carries out commands;
- deploy: downloads and verifies model artifacts, one at a time, so a long
  download never delays an emergency stop on the channel.

An emergency stop halts motion before it is acknowledged, cancels a running
download, and stays in force until the server accepts the acknowledgement of
a release command. The robot does not move before its first heartbeat
response, which reports whether the server has it under emergency stop, so a
restarted agent never moves while a stop is in force.
Network failures are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from centeros.agent.client import AgentClient, AgentError, ChecksumMismatch

logger = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
MOTION_TICK_SECONDS = 0.05
# Simulated speed along the path, in metres per second.
MOTION_SPEED = 0.2


@dataclass
class AgentConfig:
    """Settings of one simulated robot."""

    api_url: str
    token: str
    heartbeat_interval: float = 5.0
    wait: float = 25.0
    faults: list[dict] = field(default_factory=list)
    idle: bool = True
    work_dir: Path = Path("centeros-agent")
    software_version: str = "sim-agent/1.0"
    backoff_max: float = BACKOFF_MAX_SECONDS


class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    def __init__(self, maximum: float = BACKOFF_MAX_SECONDS):
        self.maximum = maximum
        self.delay = BACKOFF_MIN_SECONDS

    def next_delay(self) -> float:
        delay = self.delay * random.uniform(0.8, 1.2)
        self.delay = min(self.delay * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.delay = BACKOFF_MIN_SECONDS


@dataclass(frozen=True)
class Received:
    """A command as the robot received it, with its local receipt time."""

    command: dict
    received_monotonic: float


class SimulatedRobot:
    """One simulated robot connected to a CenterOS server."""

    def __init__(self, config: AgentConfig, *, name: str = "robot"):
        self.config = config
        self.name = name
        self.client = AgentClient(config.api_url, config.token)
        self.shutdown = threading.Event()
        self.estopped = threading.Event()
        # Set by the first heartbeat response; motion waits for it.
        self.synced = threading.Event()
        self.moving = threading.Event()
        self.idle = config.idle
        self.faults = list(config.faults)
        self.pose = {"x": 0.0, "y": 0.0, "theta": 0.0}
        self.battery = 100.0
        self.model_version = ""
        self.received: list[Received] = []
        self.results: dict[int, str] = {}
        self.last_heartbeat: dict | None = None
        self._seen: set[int] = set()
        self._changed = threading.Condition()
        self._deploys: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        logger.info(
            "Simulated robot %s starting against %s", self.name, self.config.api_url
        )
        for target in (
            self._motion_loop,
            self._heartbeat_loop,
            self._channel_loop,
            self._deploy_loop,
        ):
            thread = threading.Thread(
                target=target,
                name=f"{self.name}-{target.__name__.strip('_')}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the threads; a long poll in flight is abandoned after ``timeout``."""
        self.shutdown.set()
        self._deploys.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.client.close()
        logger.info("Simulated robot %s stopped", self.name)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` is true; return False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def received_kinds(self) -> list[str]:
        return [item.command["kind"] for item in self.received]

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # --- motion -------------------------------------------------------------

    def _motion_loop(self) -> None:
        while not self.shutdown.is_set():
            if self.estopped.is_set() or self.idle or not self.synced.is_set():
                self.moving.clear()
            else:
                self.moving.set()
                step = MOTION_SPEED * MOTION_TICK_SECONDS
                theta = self.pose["theta"]
                self.pose = {
                    "x": self.pose["x"] + step * math.cos(theta),
                    "y": self.pose["y"] + step * math.sin(theta),
                    "theta": (theta + 0.01) % (2 * math.pi),
                }
                self.battery = max(0.0, self.battery - 0.001)
            time.sleep(MOTION_TICK_SECONDS)

    def _halt(self) -> None:
        # Motion stops here, before the stop is acknowledged: the motion
        # thread reads the flag on its next tick and does not move again.
        self.estopped.set()
        self.moving.clear()

    # --- heartbeats ---------------------------------------------------------

    def heartbeat_report(self) -> dict:
        return {
            "battery": round(self.battery, 3),
            "pose": dict(self.pose),
            "software_version": self.config.software_version,
            "model_version": self.model_version or None,
            "idle": self.idle,
            "estopped": self.estopped.is_set(),
            "faults": list(self.faults),
        }

    def send_heartbeat(self) -> dict:
        data = self.client.heartbeat(self.heartbeat_report())
        self.last_heartbeat = data
        if data.get("estopped") and not self.estopped.is_set():
            # The server's record wins: a stop this agent missed (for example
            # while it was restarting) still halts the robot.
            logger.warning(
                "Robot %s: the server reports an emergency stop; halting", self.name
            )
            self._halt()
        self.synced.set()
        self._notify()
        return data

    def _heartbeat_loop(self) -> None:
        backoff = Backoff(self.config.backoff_max)
        while not self.shutdown.is_set():
            try:
                self.send_heartbeat()
            except (httpx.HTTPError, AgentError) as error:
                delay = backoff.next_delay()
                logger.warning(
                    "Robot %s: heartbeat failed (%s); retrying in %.1f s",
                    self.name,
                    error,
                    delay,
                )
                self.shutdown.wait(delay)
                continue
            backoff.reset()
            self.shutdown.wait(self.config.heartbeat_interval)

    # --- commands -----------------------------------------------------------

    def _channel_loop(self) -> None:
        backoff = Backoff(self.config.backoff_max)
        while not self.shutdown.is_set():
            try:
                commands = self.client.commands(wait=self.config.wait)
            except (httpx.HTTPError, AgentError) as error:
                if self.shutdown.is_set():
                    return
                delay = backoff.next_delay()
                logger.warning(
                    "Robot %s: command channel failed (%s); reconnecting in %.1f s",
                    self.name,
                    error,
                    delay,
                )
                self.shutdown.wait(delay)
                continue
            backoff.reset()
            received_at = time.monotonic()
            for command in commands:
                self._handle(command, received_at)

    def _handle(self, command: dict, received_at: float) -> None:
        command_id = command["id"]
        if command_id in self._seen:
            return
        self._seen.add(command_id)
        self.received.append(Received(command, received_at))
        kind = command["kind"]
        logger.info("Robot %s: received command %s (%s)", self.name, command_id, kind)

        if kind == "emergency_stop":
            self._halt()
            self._notify()
            self._acknowledge(
                command_id,
                succeeded=True,
                message=f"Motion stopped at pose {self._pose_text()}.",
            )
        elif kind == "release_emergency_stop":
            # Motion resumes only once the server accepts the release: a stop
            # sent meanwhile cancels the release, and the robot stays stopped.
            if self._acknowledge(
                command_id, succeeded=True, message="Motion re-enabled."
            ):
                self.estopped.clear()
                self._notify()
        elif kind == "deploy":
            self._deploys.put(command)
        else:
            self._acknowledge(
                command_id,
                succeeded=False,
                message=f"Unsupported command kind {kind!r}.",
            )

    def _pose_text(self) -> str:
        return ", ".join(f"{key}={value:.3f}" for key, value in self.pose.items())

    def _acknowledge(self, command_id: int, *, succeeded: bool, message: str) -> bool:
        """Send the result, retrying transport failures until the server decides.

        Returns True when the server accepted the result.
        """
        backoff = Backoff(self.config.backoff_max)
        while not self.shutdown.is_set():
            try:
                self.client.acknowledge(
                    command_id, succeeded=succeeded, message=message
                )
            except httpx.HTTPError as error:
                delay = backoff.next_delay()
                logger.warning(
                    "Robot %s: acknowledging command %s failed (%s); retrying in %.1f s",
                    self.name,
                    command_id,
                    error,
                    delay,
                )
                self.shutdown.wait(delay)
                continue
            except AgentError as error:
                # 404 or 409: the server will not take this result (the
                # command was cancelled, expired or already acknowledged).
                logger.warning(
                    "Robot %s: the server rejected the result of command %s: %s",
                    self.name,
                    command_id,
                    error,
                )
                self.results[command_id] = f"rejected:{error.code}"
                self._notify()
                return False
            status = "succeeded" if succeeded else "failed"
            self.results[command_id] = status
            logger.info(
                "Robot %s: acknowledged command %s as %s", self.name, command_id, status
            )
            self._notify()
            return True
        return False

    # --- deployments --------------------------------------------------------

    def _deploy_loop(self) -> None:
        while not self.shutdown.is_set():
            command = self._deploys.get()
            if command is None:
                return
            succeeded, message = self._deploy(command)
            self._acknowledge(command["id"], succeeded=succeeded, message=message)

    def _deploy(self, command: dict) -> tuple[bool, str]:
        payload = command["payload"]
        label = f"{payload.get('name')} v{payload.get('version')}"
        if self.estopped.is_set():
            return False, "The robot is under emergency stop; nothing is installed."
        url = payload.get("artifact_url")
        if not url:
            return False, "The deploy command carries no artifact_url."
        expected = payload.get("artifact_sha256") or ""
        if not expected:
            logger.warning(
                "Robot %s: %s has no SHA-256 to verify against", self.name, label
            )

        destination = (
            self.config.work_dir
            / self.name
            / "models"
            / f"{payload.get('model_version_id')}.bin"
        )
        # The URL itself is a credential, so logs name the deployment only.
        logger.info(
            "Robot %s: downloading %s for deployment %s",
            self.name,
            label,
            payload.get("deployment_id"),
        )
        try:
            size = self.client.download(
                url, destination, sha256=expected, should_stop=self.estopped.is_set
            )
        except InterruptedError:
            return False, "Download abandoned: emergency stop."
        except ChecksumMismatch as error:
            logger.error("Robot %s: %s rejected: %s", self.name, label, error)
            return False, str(error)
        except httpx.HTTPError as error:
            logger.error("Robot %s: downloading %s failed: %s", self.name, label, error)
            return False, f"Download failed: {type(error).__name__}."

        self.model_version = f"{payload.get('name')}:{payload.get('version')}"
        logger.info(
            "Robot %s: installed %s (%d bytes, SHA-256 verified)",
            self.name,
            label,
            size,
        )
        self._notify()
        return (
            True,
            f"Installed {label}: {size} bytes, SHA-256 {expected or 'not given'}.",
        )
