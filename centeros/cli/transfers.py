"""Long-running commands: ``datasets upload`` and ``jobs watch``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from centeros.cli.output import emit, stderr, stdout
from centeros.cli.state import state_of
from centeros.client.config import PendingUploads

logger = logging.getLogger(__name__)

# Statuses after which a training job does not change any more, with the
# exit code of 'jobs watch' for each.
FINISHED_JOB_EXIT_CODES = {"succeeded": 0, "failed": 1, "cancelled": 1}


# -- datasets upload ---------------------------------------------------------


@click.command("upload")
@click.argument(
    "file",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option(
    "--name", help="Name of the dataset; the server defaults to the file name."
)
@click.option(
    "--dataset-id",
    type=click.IntRange(min=1),
    help="Upload into this existing pending or failed dataset, for example one "
    "left by an interrupted upload.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Forget an interrupted upload of this file and create a new dataset.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the dataset as JSON.")
@click.pass_context
def upload_command(
    ctx: click.Context,
    file: Path,
    name: str | None,
    dataset_id: int | None,
    restart: bool,
    as_json: bool,
) -> None:
    """Upload FILE as a dataset through a signed URL, then confirm it.

    The file is read once: its SHA-256 is computed while it streams, and the
    server checks it on confirmation before it inspects the file. If the
    upload is interrupted, running the same command again reuses the dataset
    it created (the file must be unchanged), unless --restart is given.
    """
    state = state_of(ctx)
    client = state.client()
    pending = PendingUploads()
    info = file.stat()
    key = PendingUploads.key(client.base_url, file, info.st_size, info.st_mtime_ns)
    if restart:
        pending.delete(key)

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    progress_bar = Progress(*columns, console=stderr)
    task = progress_bar.add_task(escape(file.name), total=info.st_size)

    def on_progress(sent: int, total: int) -> None:
        progress_bar.update(task, completed=sent, total=total)

    try:
        with progress_bar:
            result = client.upload_file(
                file, name, progress=on_progress, dataset_id=dataset_id, pending=pending
            )
    except KeyboardInterrupt:
        remembered = pending.get(key)
        hint = (
            f" Run the same command again to resume into dataset "
            f"{remembered['dataset_id']}."
            if remembered
            else ""
        )
        stderr.print(f"Upload interrupted.{hint}")
        ctx.exit(130)
    except (ValueError, IsADirectoryError) as error:
        raise click.BadParameter(str(error), param_hint="FILE")

    resumed = " (resumed)" if result.resumed else ""
    stderr.print(
        f"Uploaded {escape(file.name)} ({result.size} bytes, sha256 "
        f"{result.sha256}) as dataset {result.dataset_id}{resumed}."
    )
    emit(result.dataset, as_json=as_json or state.as_json)


# -- jobs watch ---------------------------------------------------------------


def progress_percent(status: dict[str, Any]) -> float | None:
    """Return the job's progress in percent.

    NOTE: ``progress`` is read as a fraction when it is at most 1 and as a
    percentage above that. Epochs are used when it is missing.
    """
    value = status.get("progress")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 100 if value <= 1 else float(value)
    current, total = status.get("current_epoch"), status.get("total_epochs")
    if isinstance(current, int) and isinstance(total, int) and total > 0:
        return 100.0 * current / total
    return None


def metrics_text(status: dict[str, Any]) -> str:
    latest = status.get("latest_metrics")
    if not isinstance(latest, dict):
        return ""
    parts = []
    for key, value in latest.items():
        # final_loss repeats loss once the last epoch is reported.
        if key.startswith("final_") and key.removeprefix("final_") in latest:
            continue
        if isinstance(value, float):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if key not in {"epoch", "step"}:
                parts.append(f"{key} {value}")
    return "  ".join(parts)


def status_line(status: dict[str, Any]) -> str:
    parts = [str(status.get("status", "unknown"))]
    current, total = status.get("current_epoch"), status.get("total_epochs")
    if current is not None:
        parts.append(f"epoch {current}/{total if total is not None else '?'}")
    percent = progress_percent(status)
    if percent is not None:
        parts.append(f"{percent:.0f}%")
    metrics = metrics_text(status)
    if metrics:
        parts.append(metrics)
    return "  ".join(parts)


@click.command("watch")
@click.argument("job_id")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="Seconds between two status requests.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop watching after this many seconds and exit with 1.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print each status change as a JSON line."
)
@click.pass_context
def watch_command(
    ctx: click.Context,
    job_id: str,
    interval: float,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Follow a training job's status, progress and loss until it finishes.

    Exits with 0 when the job succeeded and 1 when it failed or was
    cancelled.
    """
    state = state_of(ctx)
    client = state.client()
    as_json = as_json or state.as_json
    started = time.monotonic()
    live = stdout.is_terminal and not as_json
    bar = Progress(
        TextColumn("[bold]{task.fields[job]}"),
        BarColumn(bar_width=20),
        TextColumn("{task.description}"),
        console=stdout,
        transient=False,
    )
    task = bar.add_task("", total=100, job=escape(job_id))

    last_line = None
    status: dict[str, Any] = {}
    if live:
        bar.start()
    try:
        while True:
            status = client.call("get_training_status", {"job_id": job_id}) or {}
            line = status_line(status)
            if live:
                bar.update(
                    task,
                    completed=progress_percent(status) or 0,
                    description=escape(line),
                )
            elif line != last_line:
                if as_json:
                    print(json.dumps(status, default=str), flush=True)
                else:
                    stdout.print(escape(line))
            last_line = line

            if status.get("status") in FINISHED_JOB_EXIT_CODES:
                break
            if timeout is not None and time.monotonic() - started >= timeout:
                stderr.print(
                    f"Stopped watching job {escape(job_id)} after {timeout:g} s; it is "
                    f"still {escape(str(status.get('status')))}."
                )
                ctx.exit(1)
            time.sleep(interval)
    finally:
        if live:
            bar.stop()

    final = str(status.get("status"))
    if final != "succeeded" and status.get("error"):
        stderr.print(f"Job {escape(job_id)} {final}: {escape(str(status['error']))}")
    elif not as_json:
        stderr.print(f"Job {escape(job_id)} {final}.")
    ctx.exit(FINISHED_JOB_EXIT_CODES[final])
