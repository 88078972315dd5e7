"""Command-line entry point: ``python -m training.trainer --config CONFIG.json``.

stdout carries one JSON event per line, flushed after each line: ``start``,
one ``epoch`` per epoch, then ``done``, or ``error`` with exit code 1 on
failure. Human-readable logs go to stderr. SIGTERM, which the worker sends
to cancel a job, stops the run at once with exit code 143 and no further
event, and removes any partly written artifact.
"""

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from training.trainer import TrainerError

logger = logging.getLogger("training.trainer")

EXIT_FAILED = 1
# 128 + SIGTERM, as a shell reports a process ended by that signal.
EXIT_CANCELLED = 128 + signal.SIGTERM


class TrainingCancelled(BaseException):
    """Raised in the main thread when SIGTERM arrives.

    It derives from BaseException so that no ``except Exception`` on the way
    up can swallow the cancellation.
    """


class EventWriter:
    """Writes events as JSON lines and flushes each one."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        # allow_nan=False: NaN is not JSON, and a reader would reject the line.
        line = json.dumps(event, allow_nan=False)
        self.stream.write(line + "\n")
        self.stream.flush()


class _ArgumentParser(argparse.ArgumentParser):
    """An argument parser that reports usage errors as an error event."""

    def error(self, message: str) -> NoReturn:
        _fail(EventWriter(sys.stdout), f"Invalid trainer arguments: {message}.")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    emit = EventWriter(sys.stdout)

    parser = _ArgumentParser(
        prog="python -m training.trainer",
        description="Train a behaviour-cloning MLP policy (model type bc_mlp).",
    )
    parser.add_argument(
        "--config", required=True, help="path of the job's JSON config file"
    )
    args = parser.parse_args(argv)

    job_id = "?"
    try:
        # Imported here so that a missing dependency becomes an error event.
        from training.trainer.config import parse_config
        from training.trainer.train import run_training

        raw = _read_config(Path(args.config))
        if isinstance(raw, dict) and isinstance(raw.get("job_id"), str):
            job_id = raw["job_id"]
        config = parse_config(raw)
        logger.info("Job %s: started with config %s", job_id, args.config)
        done = run_training(config, emit)
        emit(done)
        logger.info("Job %s: finished", job_id)
        return 0
    except TrainingCancelled:
        # os._exit skips flushing stdout, so an event line that was still in
        # the buffer when the signal arrived is dropped, not sent late.
        logger.warning("Job %s: cancelled by SIGTERM", job_id)
        os._exit(EXIT_CANCELLED)
    except TrainerError as error:
        logger.error("Job %s: failed: %s", job_id, error)
        _fail(emit, str(error))
    except Exception as error:
        logger.exception("Job %s: failed with an unexpected error", job_id)
        _fail(
            emit,
            f"Training failed with an unexpected {type(error).__name__}: {error}. "
            "The worker log has the traceback.",
        )


def _read_config(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TrainerError(
            f"The trainer config {path} could not be read ({error})."
        ) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainerError(
            f"The trainer config {path} is not valid JSON ({error})."
        ) from error


def _fail(emit: EventWriter, message: str) -> NoReturn:
    emit({"event": "error", "message": message})
    sys.exit(EXIT_FAILED)


def _on_sigterm(signum: int, frame: Any) -> None:
    # Further SIGTERMs during unwinding must not interrupt the clean-up.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise TrainingCancelled()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TrainingCancelled:
        # SIGTERM while an error event was being written: drop it unflushed.
        os._exit(EXIT_CANCELLED)
