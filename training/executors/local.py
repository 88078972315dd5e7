"""The ``local`` executor: runs the built-in trainer as a subprocess of the worker.

For each job it resolves the datasets to local paths, writes the trainer's
config, starts ``python -m training.trainer --config CONFIG.json`` and reads
its JSON event lines while it runs. Epoch events become the job's progress
and metric history, stderr becomes the job's log tail, and the finished
artifact is copied into storage. No database transaction stays open while it
waits on the trainer: every write is a short transaction in the services.
"""

import collections
import hashlib
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from datasets.models import Dataset
from training import services
from training.choices import JobStatus
from training.executors.base import Executor, ExecutorError
from training.models import TrainingJob

logger = logging.getLogger(__name__)

# Seconds between checks of the job row for a cancel while the trainer runs.
POLL_SECONDS = 1.0
# Seconds between heartbeats when the trainer reports nothing; this must stay
# well below CENTEROS_TRAINING_STALE_SECONDS.
HEARTBEAT_SECONDS = 5.0
# Seconds a trainer gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE_SECONDS = 10.0
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
LEROBOT_MARKER = Path("meta") / "info.json"
COPY_CHUNK_BYTES = 1024 * 1024


def artifact_key(job: TrainingJob) -> str:
    """Return the storage key of a job's model artifact."""
    # The same folder that model registration and deploy signing accept.
    return f"artifacts/{job.org_id}/{job.pk}/model.npz"


@dataclass
class _Run:
    """The events and log lines read so far from one trainer process."""

    job_id: str
    stderr_tail: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=services.LOG_TAIL_LINES)
    )
    pending_epochs: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    error: str | None = None
    cancelled: bool = False
    timed_out: bool = False
    logs_changed: bool = False

    def logs(self) -> str:
        return "\n".join(self.stderr_tail)


class LocalExecutor(Executor):
    """Runs the trainer on this worker machine and streams its progress."""

    name = "local"

    def run(self, job_id: str) -> str:
        job = services.training_job_start(job_id=job_id)
        if job is None:
            return _status_of(job_id)

        run = _Run(job_id=job_id)
        try:
            with tempfile.TemporaryDirectory(
                prefix=f"centeros-job-{job_id}-"
            ) as workdir:
                self._run_in(job, Path(workdir), run)
        except ExecutorError as error:
            services.training_job_fail(
                job_id=job_id, message=str(error), logs=run.logs()
            )
        except Exception as error:
            logger.exception("The local executor failed on training job %s", job_id)
            services.training_job_fail(
                job_id=job_id,
                message=f"The worker failed while running the job: "
                f"{type(error).__name__}: {error}. The worker log has details.",
                logs=run.logs(),
            )
        except BaseException:
            # The worker is shutting down (a second SIGTERM makes db_worker
            # raise SystemExit): the trainer is already stopped, and the job
            # must not wait for the stale check to be marked failed.
            logger.warning("Worker stopped during training job %s", job_id)
            services.training_job_fail(
                job_id=job_id,
                message="The worker was stopped while running the job; launch a "
                "new job.",
                logs=run.logs(),
            )
            raise
        return _status_of(job_id)

    def _run_in(self, job: TrainingJob, workdir: Path, run: _Run) -> None:
        # Step 1: the inputs. Datasets are resolved to local paths and the
        # trainer's config is written next to its output.
        dataset_files = [
            _local_dataset(dataset, workdir) for dataset in job.datasets.order_by("pk")
        ]
        output_path = workdir / "model.npz"
        config_path = workdir / "config.json"
        config_path.write_text(
            json.dumps(
                {
                    "job_id": job.pk,
                    "model_type": job.model_type,
                    "dataset_files": dataset_files,
                    "hyperparameters": job.hyperparameters,
                    "output_path": str(output_path),
                }
            ),
            encoding="utf-8",
        )

        # Step 2: run the trainer and follow it until it exits.
        returncode = self._follow(job, config_path, workdir, run)

        # Step 3: the outcome.
        if run.cancelled:
            services.training_job_finish_cancel(job_id=job.pk, logs=run.logs())
            return
        if run.timed_out:
            max_hours = job.compute.get("max_hours")
            raise ExecutorError(
                f"The job ran longer than its compute.max_hours of {max_hours} "
                "hours and was stopped; raise max_hours or train for fewer epochs."
            )
        if run.error is not None:
            raise ExecutorError(run.error)
        if returncode != 0 or run.done is None:
            last_line = run.stderr_tail[-1] if run.stderr_tail else "no output"
            raise ExecutorError(
                f"The trainer exited with code {returncode} without reporting a "
                f"result (last log line: {last_line})."
            )
        self._store_artifact(job, run, Path(run.done["artifact"]))

    def _follow(
        self, job: TrainingJob, config_path: Path, workdir: Path, run: _Run
    ) -> int:
        """Run the trainer, streaming its events into the job; return its exit code."""
        command = [
            sys.executable,
            "-m",
            "training.trainer",
            "--config",
            str(config_path),
        ]
        env = {**os.environ, "PYTHONPATH": _python_path()}
        # NOTE: a worker killed with SIGKILL leaves its trainer running until
        # the trainer finishes; the job itself is failed by the stale check.
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            cwd=workdir,
            env=env,
        )
        logger.info("Training job %s: started trainer pid %s", job.pk, process.pid)

        # Two reader threads feed one queue, so that neither pipe can fill up
        # and block the trainer, and so that this loop wakes up every
        # POLL_SECONDS to check for a cancel even when the trainer is silent.
        lines: queue.Queue = queue.Queue()
        readers = [
            threading.Thread(target=_pump, args=(name, stream, lines), daemon=True)
            for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
        ]
        for reader in readers:
            reader.start()

        deadline = _deadline(job)
        open_streams = len(readers)
        last_check = last_report = time.monotonic()
        try:
            while open_streams:
                try:
                    stream, line = lines.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    stream, line = None, None
                if stream is not None and line is None:
                    open_streams -= 1
                elif stream == "stdout":
                    _handle_event(run, line)
                elif stream == "stderr":
                    run.stderr_tail.append(line.rstrip("\n"))
                    run.logs_changed = True

                now = time.monotonic()
                if now - last_check < POLL_SECONDS and not run.done:
                    continue
                last_check = now

                # Once per POLL_SECONDS: write the new epochs and log tail, or
                # a bare heartbeat every HEARTBEAT_SECONDS, or check for a cancel.
                if run.pending_epochs or now - last_report >= HEARTBEAT_SECONDS:
                    if not self._report(run):
                        run.cancelled = True
                        break
                    last_report = now
                elif _cancel_requested(job.pk):
                    run.cancelled = True
                    break
                if deadline is not None and now > deadline:
                    run.timed_out = True
                    break
        finally:
            # Open pipes mean the loop stopped before the trainer exited
            # (cancel, timeout or an error here), so the trainer must stop too.
            returncode = _stop(process, job.pk, terminate=open_streams > 0)
            for reader in readers:
                reader.join(timeout=TERMINATE_GRACE_SECONDS)

        if not run.cancelled and run.pending_epochs:
            if not self._report(run):
                run.cancelled = True
        return returncode

    def _report(self, run: _Run) -> bool:
        """Write pending epochs and logs; return False when the job was cancelled."""
        reported = services.training_job_report(
            job_id=run.job_id,
            epochs=run.pending_epochs,
            logs=run.logs() if run.logs_changed else None,
        )
        run.pending_epochs = []
        run.logs_changed = False
        return reported is not None

    def _store_artifact(self, job: TrainingJob, run: _Run, path: Path) -> None:
        """Copy the artifact into storage and mark the job succeeded."""
        if not path.is_file():
            raise ExecutorError(
                f"The trainer reported the artifact {path}, which does not exist."
            )
        sha256, size = _file_digest(path)
        if sha256 != run.done.get("sha256") or size != run.done.get("size_bytes"):
            raise ExecutorError(
                f"The artifact {path.name} does not match what the trainer reported "
                f"(sha256 {sha256}, {size} bytes); launch a new job."
            )

        key = artifact_key(job)
        if default_storage.exists(key):
            default_storage.delete(key)
        with path.open("rb") as handle:
            # Storage.save reads the File in chunks, never whole.
            stored_key = default_storage.save(key, File(handle, name=path.name))

        final_metrics = {
            name: run.done[name]
            for name in ("final_loss", "final_val_loss")
            if name in run.done
        }
        job_after = services.training_job_succeed(
            job_id=job.pk,
            artifact_key=stored_key,
            artifact_sha256=sha256,
            artifact_size=size,
            final_metrics=final_metrics,
            logs=run.logs(),
        )
        if job_after is None:
            # Cancelled while the artifact was copied: the artifact goes too.
            default_storage.delete(stored_key)
            logger.info("Training job %s was cancelled; deleted its artifact", job.pk)


def _pump(name: str, stream: IO[str], lines: queue.Queue) -> None:
    for line in stream:
        lines.put((name, line))
    lines.put((name, None))


def _handle_event(run: _Run, line: str) -> None:
    """Record one stdout line of the trainer; other lines go to the log tail."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        run.stderr_tail.append(line.rstrip("\n"))
        run.logs_changed = True
        return
    if not isinstance(event, dict):
        return

    kind = event.get("event")
    if kind == "epoch" and isinstance(event.get("epoch"), int):
        run.pending_epochs.append(event)
    elif kind == "done":
        run.done = event
    elif kind == "error":
        run.error = str(event.get("message") or "The trainer failed without a message.")


def _stop(process: subprocess.Popen, job_id: str, *, terminate: bool) -> int:
    """Wait for the trainer to exit, sending SIGTERM first when ``terminate``."""
    if terminate and process.poll() is None:
        logger.info("Training job %s: terminating trainer pid %s", job_id, process.pid)
        process.terminate()
    try:
        return process.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning(
            "Training job %s: trainer pid %s ignored SIGTERM; killing it",
            job_id,
            process.pid,
        )
        process.kill()
        return process.wait()


def _cancel_requested(job_id: str) -> bool:
    row = (
        TrainingJob.objects.filter(pk=job_id)
        .values("status", "cancel_requested")
        .first()
    )
    return row is None or row["cancel_requested"] or row["status"] != JobStatus.RUNNING


def _deadline(job: TrainingJob) -> float | None:
    max_hours = job.compute.get("max_hours")
    if not max_hours:
        return None
    return time.monotonic() + float(max_hours) * 3600


def _status_of(job_id: str) -> str:
    row = TrainingJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return row or ""


def _python_path() -> str:
    """Return PYTHONPATH with the project root first, so the trainer imports."""
    existing = os.environ.get("PYTHONPATH", "")
    root = str(settings.BASE_DIR)
    return os.pathsep.join(part for part in (root, existing) if part)


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# ---------------------------------------------------------------------------
# Datasets on local disk


def _local_dataset(dataset: Dataset, workdir: Path) -> dict[str, str]:
    """Return the trainer's ``{"path", "file_type"}`` entry for a dataset."""
    key = dataset.storage_key
    if not key or not default_storage.exists(key):
        raise ExecutorError(
            f"The file of dataset {dataset.pk} ({dataset.name}) is missing from "
            "storage; upload the dataset again."
        )

    if dataset.file_type == "hdf5":
        return {"path": str(_local_file(key, workdir, dataset)), "file_type": "hdf5"}

    if dataset.file_type == "lerobot":
        name = (dataset.original_filename or key).lower()
        if not name.endswith(ARCHIVE_SUFFIXES):
            raise ExecutorError(
                f"Dataset {dataset.pk} ({dataset.name}) is a LeRobot dataset stored "
                f"as {key!r}, which is not a zip or tar archive; upload the dataset "
                "folder as an archive."
            )
        archive = _local_file(key, workdir, dataset)
        folder = workdir / f"dataset-{dataset.pk}"
        _extract(archive, folder, dataset)
        return {"path": str(_lerobot_root(folder, dataset)), "file_type": "lerobot"}

    raise ExecutorError(
        f"Dataset {dataset.pk} ({dataset.name}) is a {dataset.file_type} dataset; "
        "the built-in trainer reads only hdf5 and lerobot datasets."
    )


def _local_file(key: str, workdir: Path, dataset: Dataset) -> Path:
    """Return a local path of a stored file, downloading it when needed."""
    try:
        return Path(default_storage.path(key))
    except NotImplementedError:
        pass

    # Remote storage (S3, GCS): stream the object into the job's folder.
    target = workdir / f"download-{dataset.pk}-{Path(key).name}"
    logger.info("Downloading dataset %s (%s) for training", dataset.pk, key)
    with default_storage.open(key, "rb") as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink, COPY_CHUNK_BYTES)
    return target


def _extract(archive: Path, folder: Path, dataset: Dataset) -> None:
    """Extract a zip or tar archive into ``folder``, refusing unsafe members."""
    folder.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                # zipfile drops '..' and leading slashes from member names,
                # so every member lands inside folder.
                bundle.extractall(folder)
        else:
            with tarfile.open(archive, mode="r:*") as bundle:
                # The "data" filter rejects absolute paths, links leaving the
                # folder and device files.
                bundle.extractall(folder, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        raise ExecutorError(
            f"The archive of dataset {dataset.pk} ({dataset.name}) could not be "
            f"extracted ({error}); upload the dataset again."
        ) from error


def _lerobot_root(folder: Path, dataset: Dataset) -> Path:
    roots = sorted(marker.parent.parent for marker in folder.rglob(str(LEROBOT_MARKER)))
    if len(roots) != 1:
        raise ExecutorError(
            f"The archive of dataset {dataset.pk} ({dataset.name}) contains "
            f"{len(roots)} LeRobot datasets (folders with {LEROBOT_MARKER}); it "
            "must contain exactly one."
        )
    return roots[0]
