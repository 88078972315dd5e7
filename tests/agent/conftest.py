"""Live servers and simulated robots for the agent protocol tests.

Two uvicorn processes serve ``centeros.asgi:application`` on the test
database, so a robot can long-poll one while an operator's command goes to
the other. The servers start once per session; tests that use them need
``django_db(transaction=True)`` so that the rows they create are committed
and visible to the servers.

On PostgreSQL the servers poll only every 5 s, so a robot that receives a
command sooner was woken by LISTEN/NOTIFY; on SQLite they poll every 100 ms.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from centeros.agent.robot import AgentConfig, SimulatedRobot
from tests.worker import REPO_ROOT, test_database_url

SERVER_START_TIMEOUT = 30.0


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(env: dict, log_path: Path) -> LiveServer:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "centeros.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
            # Long polls still open at shutdown are cut after a second.
            "--timeout-graceful-shutdown",
            "1",
        ],
        cwd=REPO_ROOT,
        env=env | {"CENTEROS_PUBLIC_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return LiveServer(url=url, process=process, log_path=log_path)


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"The server exited at start:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/api/health", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"The server did not start in time:\n{server.log()}")


def _stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@pytest.fixture(scope="session")
def live_storage(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live-storage")


@pytest.fixture(scope="session")
def live_servers(
    django_db_setup, django_db_blocker, live_storage, tmp_path_factory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Start two servers on the test database; yield them, stop them after."""
    from django.conf import settings

    with django_db_blocker.unblock():
        database_url = test_database_url()
    on_postgresql = database_url.startswith("postgres")
    env = os.environ | {
        "DATABASE_URL": database_url,
        "CENTEROS_SECRET_KEY": settings.SECRET_KEY,
        "CENTEROS_DATA_DIR": str(settings.DATA_DIR),
        "CENTEROS_STORAGE_ROOT": str(live_storage),
        "CENTEROS_AGENT_POLL_MS": "5000" if on_postgresql else "100",
        "CENTEROS_LOG_LEVEL": "INFO",
    }
    logs = tmp_path_factory.mktemp("live-logs")
    servers = (
        _start_server(env, logs / "server-a.log"),
        _start_server(env, logs / "server-b.log"),
    )
    try:
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        for server in servers:
            _stop_server(server)


@pytest.fixture
def server(live_servers) -> LiveServer:
    return live_servers[0]


@pytest.fixture
def use_live_storage(settings, live_storage) -> Path:
    """Point this process's default storage at the servers' storage folder."""
    settings.STORAGE_ROOT = live_storage
    settings.MEDIA_ROOT = str(live_storage)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(live_storage)},
        },
    }
    return live_storage


@pytest.fixture
def start_agent(tmp_path):
    """Start simulated robots (the real agent client) and stop them after the test.

    ``start_agent(token, server, idle=True, faults=[...])`` returns a
    running :class:`SimulatedRobot`.
    """
    robots: list[SimulatedRobot] = []

    def start(token: str, server: LiveServer, **overrides) -> SimulatedRobot:
        config = AgentConfig(
            api_url=server.url,
            token=token,
            heartbeat_interval=0.3,
            wait=5,
            work_dir=tmp_path / "agent",
            backoff_max=1.0,
        )
        for name, value in overrides.items():
            setattr(config, name, value)
        robot = SimulatedRobot(config, name=f"robot-{len(robots) + 1}")
        robot.start()
        robots.append(robot)
        return robot

    yield start
    for robot in robots:
        robot.stop(timeout=0.5)


def wait_connected(robot: SimulatedRobot, timeout: float = 5.0) -> None:
    """Wait for the robot's first heartbeat response and its first long poll."""
    assert robot.wait_until(lambda: robot.last_heartbeat is not None, timeout)
    # The channel thread sends its first poll right after start; give the
    # request time to reach the server and start waiting.
    time.sleep(0.3)


@pytest.fixture
def registered_robot(org):
    """A robot of ``org`` and its token, committed for the live servers."""
    from fleet.services import robot_register

    return robot_register(org=org, robot_id="arm-01")


def action_over_http(server: LiveServer, token: str, name: str, params: dict):
    response = httpx.post(
        f"{server.url}/api/actions/{name}",
        json={"params": params},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response
