"""Measure signed uploads through a running server against a plain file copy.

Writes a file of --size-mib MiB, copies it once with shutil.copyfile on the
same disk (the baseline), then uploads it to the platform's local signed URL
on a server started as a subprocess on 127.0.0.1:

- ``asgi``: uvicorn serving ``centeros.asgi:application``, as scripts/run.sh
  does, where upload PUTs are streamed to storage;
- ``asgi-django``: uvicorn serving Django's plain ASGI handler, which spools
  the body to a temporary file before the view runs (for comparison);
- ``wsgi``: ``manage.py runserver --noreload`` (Django's WSGI server).

For each it prints the throughput, its ratio to the copy and the growth of
the server's resident memory (VmRSS sampled from /proc every 20 ms, and
VmHWM). The generated files and the server's data folder are removed.

    .venv/bin/python benchmarks/upload_bench.py                 # 2 GiB
    .venv/bin/python benchmarks/upload_bench.py --size-mib 256 --modes asgi

docs/benchmarks-upload.md records results.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BODY_CHUNK = MIB

SERVER_COMMANDS = {
    "asgi": [
        str(Path(PYTHON).parent / "uvicorn"),
        "centeros.asgi:application",
        "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ],
    "asgi-django": [
        str(Path(PYTHON).parent / "uvicorn"),
        "--factory",
        "django.core.asgi:get_asgi_application",
        "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ],
    "wsgi": [PYTHON, "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_file(path: Path, size: int) -> None:
    """Write ``size`` bytes: one random MiB repeated (incompressible per block)."""
    block = os.urandom(MIB)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            count = min(remaining, MIB)
            handle.write(block[:count])
            remaining -= count
        handle.flush()
        os.fsync(handle.fileno())


def memory_kib(pid: int) -> dict:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


class MemorySampler(threading.Thread):
    """Record the largest VmRSS of a process, every 20 ms, until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_rss = max(self.peak_rss, memory_kib(self.pid)["VmRSS"])
            self._stop_event.wait(0.02)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def setup_django(data_dir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "centeros.settings"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def sign_upload(size: int, port: int) -> str:
    """Create a dataset and return a signed upload URL for ``size`` bytes."""
    from django.conf import settings

    from datasets.services import dataset_upload_start
    from orgs.models import Organization

    settings.CENTEROS_PUBLIC_URL = f"http://127.0.0.1:{port}"
    org, _ = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Bench"}
    )
    _, signed = dataset_upload_start(org=org, filename="bench.bin", file_size=size)
    return signed["url"]


def start_server(mode: str, port: int, env: dict) -> subprocess.Popen:
    command = [part.format(port=port) for part in SERVER_COMMANDS[mode]]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"The {mode} server did not start within 30 s.")


def read_chunks(path: Path):
    with path.open("rb") as handle:
        while chunk := handle.read(BODY_CHUNK):
            yield chunk


def upload(mode: str, source: Path, env: dict) -> dict:
    size = source.stat().st_size
    port = free_port()
    url = sign_upload(size, port)
    server = start_server(mode, port, env)
    try:
        before = memory_kib(server.pid)
        sampler = MemorySampler(server.pid)
        sampler.start()

        started = time.perf_counter()
        response = httpx.put(
            url,
            content=read_chunks(source),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
            },
            timeout=600,
        )
        elapsed = time.perf_counter() - started
        sampler.stop()
        after = memory_kib(server.pid)
        if response.status_code != 200:
            raise RuntimeError(f"{mode} upload failed: {response.status_code}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    return {
        "mode": mode,
        "seconds": elapsed,
        "mib_s": size / MIB / elapsed,
        "rss_before_mib": before["VmRSS"] / 1024,
        "rss_growth_mib": (sampler.peak_rss - before["VmRSS"]) / 1024,
        "hwm_growth_mib": (after["VmHWM"] - before["VmHWM"]) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="file size in MiB")
    parser.add_argument(
        "--modes",
        default="asgi,asgi-django,wsgi",
        help="comma-separated servers to measure: asgi, asgi-django, wsgi",
    )
    parser.add_argument(
        "--dir", default=None, help="folder for the temporary files (default: /tmp)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="centeros-upload-bench-", dir=args.dir))
    data_dir = work / "data"
    env = {
        **os.environ,
        "CENTEROS_DATA_DIR": str(data_dir),
        "CENTEROS_SECRET_KEY": "upload-benchmark-" + "k" * 40,
        "CENTEROS_STORAGE_BACKEND": "local",
        "CENTEROS_MAX_UPLOAD_SIZE": str(max(args.size_mib * MIB, 10 * 1024**3)),
        "CENTEROS_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "centeros.settings",
    }
    os.environ.update(env)

    try:
        setup_django(data_dir)
        source = work / "source.bin"
        size = args.size_mib * MIB
        write_file(source, size)

        started = time.perf_counter()
        shutil.copyfile(source, work / "copy.bin")
        copy_seconds = time.perf_counter() - started
        (work / "copy.bin").unlink()
        copy_rate = size / MIB / copy_seconds
        print(f"file {args.size_mib} MiB in {work}")
        print(f"copy        {copy_seconds:7.2f} s {copy_rate:8.1f} MiB/s")

        for mode in args.modes.split(","):
            result = upload(mode, source, env)
            ratio = result["mib_s"] / copy_rate * 100
            print(
                f"{mode:<11} {result['seconds']:7.2f} s {result['mib_s']:8.1f} MiB/s "
                f"{ratio:5.1f} % of copy, server RSS {result['rss_before_mib']:.0f} MiB "
                f"+{result['rss_growth_mib']:.1f} MiB peak (VmHWM "
                f"+{result['hwm_growth_mib']:.1f} MiB)"
            )
            # Each upload's file is removed before the next one is written.
            shutil.rmtree(data_dir / "storage" / "datasets", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
