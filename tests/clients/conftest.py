"""A live CenterOS server for the client tests, started once per session.

The server runs in its own process (``manage.py runserver``) on a free
loopback port, with its own data folder and SQLite database, so the clients
talk to it over real HTTP exactly as they would in use. Users, organisations
and tokens are created through ``manage.py shell``; the client packages
themselves never import server code.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SETUP_MARKER = "LIVE_SETUP="
PASSWORD = "wipe-the-table-42"

SETUP_SCRIPT = f"""
import json
from orgs.models import Membership, Organization, User
from orgs.services import pat_create

ada = User.objects.create_user(
    username="ada", password={PASSWORD!r}, email="ada@example.com"
)
lab = Organization.objects.create(name="Pick Lab", slug="pick-lab")
Membership.objects.create(user=ada, org=lab, role="admin")
bob = User.objects.create_user(
    username="bob", password={PASSWORD!r}, email="bob@example.com"
)
other = Organization.objects.create(name="Other Lab", slug="other-lab")
Membership.objects.create(user=bob, org=other, role="admin")

_, full = pat_create(owner=ada, org=lab, name="full", scopes=["*"])
_, read = pat_create(owner=ada, org=lab, name="read", scopes=["datasets:read"])
print({SETUP_MARKER!r} + json.dumps({{
    "full_token": full,
    "read_token": read,
    "org_id": lab.pk,
    "other_org_id": other.pk,
}}))
"""


@dataclass
class LiveServer:
    url: str
    full_token: str
    read_token: str
    org_id: int
    other_org_id: int
    username: str
    password: str
    data_dir: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args[:1])} failed with {result.returncode}:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"The server did not become healthy:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def centeros_server(tmp_path_factory) -> LiveServer:
    data_dir = tmp_path_factory.mktemp("live-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CENTEROS_") and key != "DATABASE_URL"
    }
    env.update(
        {
            "CENTEROS_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'live.sqlite3'}",
            "CENTEROS_PUBLIC_URL": url,
            # The tests log in and call actions far more often than a person.
            "CENTEROS_LOGIN_RATE": "1000/min",
            "CENTEROS_ACTION_RATE": "10000/min",
            "CENTEROS_ANON_RATE": "10000/min",
            "PYTHONUNBUFFERED": "1",
        }
    )

    _manage(["migrate", "--noinput", "-v", "0"], env)
    output = _manage(["shell", "-c", SETUP_SCRIPT], env)
    line = next(row for row in output.splitlines() if row.startswith(SETUP_MARKER))
    setup = json.loads(line[len(SETUP_MARKER) :])

    log = data_dir / "server.log"
    worker_log = data_dir / "worker.log"
    with log.open("w") as log_handle, worker_log.open("w") as worker_handle:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=REPO,
            env=env,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
        )
        # The task worker runs launched training jobs for 'jobs watch'.
        worker = subprocess.Popen(
            [PYTHON, "manage.py", "db_worker", "--queue-name", "*"],
            cwd=REPO,
            env=env,
            stdout=worker_handle,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log)
        yield LiveServer(
            url=url,
            full_token=setup["full_token"],
            read_token=setup["read_token"],
            org_id=setup["org_id"],
            other_org_id=setup["other_org_id"],
            username="ada",
            password=PASSWORD,
            data_dir=data_dir,
        )
    finally:
        for child in (worker, process):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def cli_command() -> list[str]:
    """The installed ``centeros`` console script, or the module if missing."""
    script = shutil.which("centeros", path=str(Path(PYTHON).parent))
    return [script] if script else [PYTHON, "-m", "centeros.cli.main"]


def mcp_command() -> list[str]:
    script = shutil.which("centeros-mcp", path=str(Path(PYTHON).parent))
    return [script] if script else [PYTHON, "-m", "centeros.mcp.server"]


@pytest.fixture
def client_env(tmp_path, centeros_server) -> dict[str, str]:
    """Environment of a client process: its own config and cache folders."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CENTEROS_") and key != "DATABASE_URL"
    }
    env.update(
        {
            "CENTEROS_API_URL": centeros_server.url,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    return env


class CLI:
    """Runs the ``centeros`` command in a subprocess with a given environment."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cli_command(), *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def json(self, *args: str, **kwargs) -> dict:
        result = self(*args, **kwargs)
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli(client_env) -> CLI:
    return CLI(client_env)


@pytest.fixture
def logged_in_cli(cli, centeros_server) -> CLI:
    result = cli(
        "login",
        "-u",
        centeros_server.username,
        "--password-stdin",
        input=centeros_server.password + "\n",
    )
    assert result.returncode == 0, result.stderr
    return cli
