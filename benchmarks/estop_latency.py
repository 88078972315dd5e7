"""Measure emergency stop latency and heartbeat throughput on a live server.

Creates its own PostgreSQL database (dropped afterwards unless --keep),
migrates it, registers robots, and starts uvicorn serving
``centeros.asgi:application`` on 127.0.0.1. Simulated agents are lightweight
asyncio httpx clients in this one process: each long-polls the command
channel and acknowledges what it receives, like ``centeros agent`` does.

For each number of connected agents (--agents, default 1,100,500) the script
sends --samples emergency stops through the ``emergency_stop`` action, one
at a time, each to the next robot in turn, and records for each stop:

- ``from_response``: from the moment the action's HTTP response arrived to
  the moment the robot's long poll returned the stop;
- ``from_request``: the same, counted from when the request was sent.

After each stop it releases the robot (``release_emergency_stop``) and waits
until the agent acknowledged the release, so every stop creates a new
command. Then it measures heartbeat ingestion: --heartbeat-senders
concurrent clients post heartbeats back to back for --heartbeat-seconds.

    .venv/bin/python benchmarks/estop_latency.py
    .venv/bin/python benchmarks/estop_latency.py --agents 500 --server-workers 2

docs/benchmarks-fleet.md records the results and explains them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
SETUP_MARKER = "BENCH_SETUP="
# Stops slower than this are reported one by one on stderr.
SLOW_MS = 100

SETUP_SCRIPT = """
import json
from fleet.services import robot_register
from orgs.models import Membership, Organization, User
from orgs.services import pat_create

user = User.objects.create_user(username="bench", password="bench-password-1")
org = Organization.objects.create(name="Bench", slug="bench")
Membership.objects.create(user=user, org=org, role="admin")
_, pat = pat_create(owner=user, org=org, name="bench", scopes=["*"])
tokens = [
    robot_register(org=org, robot_id=f"bench-{{index:04d}}")[1]
    for index in range({count})
]
print({marker!r} + json.dumps({{"pat": pat, "tokens": tokens}}))
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Agent:
    """One simulated robot: a long-poll loop that acknowledges every command."""

    def __init__(self, http: httpx.AsyncClient, token: str, bench: Bench):
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.bench = bench

    async def run(self) -> None:
        while True:
            try:
                response = await self.http.get(
                    "/api/agent/v1/commands",
                    params={"wait": 25},
                    headers=self.headers,
                    timeout=40,
                )
            except httpx.HTTPError as error:
                print(f"poll failed: {error!r}", file=sys.stderr)
                await asyncio.sleep(0.5)
                continue
            received = time.perf_counter()
            for command in response.json()["data"]["commands"]:
                self.bench.received[command["id"]] = received
                await self.http.post(
                    f"/api/agent/v1/commands/{command['id']}/ack",
                    json={"status": "succeeded", "message": "bench"},
                    headers=self.headers,
                )
                self.bench.acked(command["id"])


class Bench:
    def __init__(self, url: str, pat: str, tokens: list[str]):
        self.url = url
        self.pat = pat
        self.tokens = tokens
        self.received: dict[int, float] = {}
        self._waiting: dict[int, asyncio.Event] = {}
        self._acked: set[int] = set()

    def acked(self, command_id: int) -> None:
        self._acked.add(command_id)
        event = self._waiting.get(command_id)
        if event is not None:
            event.set()

    async def wait_acked(self, command_id: int, timeout: float) -> None:
        if command_id in self._acked:
            return
        event = self._waiting.setdefault(command_id, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)

    async def action(self, http: httpx.AsyncClient, name: str, params: dict) -> dict:
        response = await http.post(
            f"/api/actions/{name}",
            json={"params": params},
            headers={"Authorization": f"Bearer {self.pat}"},
        )
        body = response.json()
        if not body.get("ok"):
            raise RuntimeError(f"{name} failed: {body}")
        return body["data"]

    async def stop_latency(self, agents: int, samples: int) -> dict:
        limits = httpx.Limits(
            max_connections=agents + 20, max_keepalive_connections=agents + 20
        )
        async with (
            httpx.AsyncClient(
                base_url=self.url, limits=limits, timeout=40
            ) as agent_http,
            httpx.AsyncClient(base_url=self.url, timeout=30) as operator,
        ):
            tasks = [
                asyncio.create_task(Agent(agent_http, token, self).run())
                for token in self.tokens[:agents]
            ]
            # Let every agent's first long poll reach the server and wait.
            await asyncio.sleep(2 + agents / 200)

            from_response, from_request = [], []
            for sample in range(samples):
                robot_id = f"bench-{sample % agents:04d}"
                sent = time.perf_counter()
                stop = await self.action(
                    operator, "emergency_stop", {"robot_id": robot_id}
                )
                answered = time.perf_counter()
                command_id = stop["command"]["id"]
                await self.wait_acked(command_id, timeout=15)
                received = self.received[command_id]
                from_response.append((received - answered) * 1000)
                from_request.append((received - sent) * 1000)
                if from_response[-1] > SLOW_MS:
                    print(
                        f"slow stop: sample {sample}, {robot_id}, "
                        f"{from_response[-1]:.0f} ms after the response",
                        file=sys.stderr,
                    )

                release = await self.action(
                    operator,
                    "release_emergency_stop",
                    {"robot_id": robot_id, "reason": "benchmark cycle"},
                )
                await self.wait_acked(release["command"]["id"], timeout=15)
                await asyncio.sleep(0.02)

            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "agents": agents,
            "samples": samples,
            "from_response_ms": summarize(from_response),
            "from_request_ms": summarize(from_request),
        }

    async def heartbeat_throughput(self, senders: int, seconds: float) -> dict:
        limits = httpx.Limits(max_connections=senders + 5)
        count = 0
        errors = 0
        deadline = time.perf_counter() + seconds
        body = {
            "battery": 80.0,
            "pose": {"x": 1.0, "y": 2.0, "theta": 0.1},
            "software_version": "bench/1.0",
            "model_version": "pick:1",
            "idle": True,
            "faults": [],
        }

        async def sender(index: int) -> None:
            nonlocal count, errors
            headers = {
                "Authorization": f"Bearer {self.tokens[index % len(self.tokens)]}"
            }
            while time.perf_counter() < deadline:
                response = await http.post(
                    "/api/agent/v1/heartbeat", json=body, headers=headers
                )
                if response.status_code == 200:
                    count += 1
                else:
                    errors += 1

        async with httpx.AsyncClient(
            base_url=self.url, limits=limits, timeout=30
        ) as http:
            started = time.perf_counter()
            await asyncio.gather(*(sender(index) for index in range(senders)))
            elapsed = time.perf_counter() - started
        return {
            "senders": senders,
            "seconds": round(elapsed, 2),
            "heartbeats": count,
            "errors": errors,
            "per_second": round(count / elapsed, 1),
        }


def summarize(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 2),
        "p99": round(percentile(values, 0.99), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def start_server(
    env: dict, port: int, workers: int, log_path: Path
) -> subprocess.Popen:
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
            "--workers",
            str(workers),
            "--no-access-log",
            "--lifespan",
            "off",
            "--timeout-graceful-shutdown",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited; see {log_path}")
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code
                < 500
            ):
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not start; see {log_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--agents", default="1,100,500", help="Comma-separated agent counts."
    )
    parser.add_argument(
        "--samples", type=int, default=100, help="Stops per agent count."
    )
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--heartbeat-senders", type=int, default=32)
    parser.add_argument("--heartbeat-seconds", type=float, default=10.0)
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server URL without a database name.",
    )
    parser.add_argument("--database", default="centeros_bench_fleet")
    parser.add_argument("--keep", action="store_true", help="Keep the database.")
    args = parser.parse_args()

    counts = [int(value) for value in args.agents.split(",")]
    database_url = f"{args.postgres}/{args.database}"
    data_dir = Path(tempfile.mkdtemp(prefix="centeros-bench-fleet-"))
    env = os.environ | {
        "DATABASE_URL": database_url,
        "CENTEROS_DATA_DIR": str(data_dir),
        "CENTEROS_LOG_LEVEL": "WARNING",
        "CENTEROS_DB_POOL_SIZE": "20",
    }

    recreate_database(f"{args.postgres}/postgres", args.database)
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=REPO,
            env=env,
            check=True,
        )
        script = SETUP_SCRIPT.format(count=max(counts), marker=SETUP_MARKER)
        output = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        setup = json.loads(output.split(SETUP_MARKER, 1)[1].splitlines()[0])

        port = free_port()
        server = start_server(env, port, args.server_workers, data_dir / "server.log")
        bench = Bench(f"http://127.0.0.1:{port}", setup["pat"], setup["tokens"])

        results = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "server_workers": args.server_workers,
            },
            "stop_latency": [],
        }
        for count in counts:
            result = asyncio.run(bench.stop_latency(count, args.samples))
            results["stop_latency"].append(result)
            print(json.dumps(result), flush=True)
        results["heartbeats"] = asyncio.run(
            bench.heartbeat_throughput(args.heartbeat_senders, args.heartbeat_seconds)
        )
        print(json.dumps(results["heartbeats"]), flush=True)
        print(json.dumps(results, indent=2))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if not args.keep:
            drop_database(f"{args.postgres}/postgres", args.database)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
