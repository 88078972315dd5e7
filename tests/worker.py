"""Start a real task worker (``manage.py db_worker``) on the test database."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """Return a DATABASE_URL naming the database the tests run on."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = database.get("USER") or "postgres"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"


def start_worker(log_path: Path) -> subprocess.Popen:
    """Start ``db_worker`` on all queues, sharing this process's storage folder.

    The caller must stop it (``stop_worker``). Tests that use it need
    ``django_db(transaction=True)`` so that the worker can read the rows they commit.
    """
    env = os.environ | {
        "DATABASE_URL": test_database_url(),
        "CENTEROS_STORAGE_ROOT": str(settings.STORAGE_ROOT),
        "CENTEROS_DATA_DIR": str(settings.DATA_DIR),
        "CENTEROS_LOG_LEVEL": "INFO",
    }
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "*",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--no-reload",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
