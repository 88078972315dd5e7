"""The executor interface and the registry of executors by name.

A worker task hands each launched job to the executor named on the job (set
from ``settings.CENTEROS_TRAINING_EXECUTOR`` at launch). An executor moves the
job from ``queued`` to ``running`` and on to a final state through the
services in ``training.services``, so every backend obeys the same state
machine. Another backend (for example one that submits the trainer to a Ray
cluster) is added with ``register_executor("ray", "dotted.path.RayExecutor")``.
"""

import abc
import logging

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Executor name -> dotted path of its class. The class is imported only when
# a job needs it, so a backend's optional dependencies stay optional.
_EXECUTORS: dict[str, str] = {
    "local": "training.executors.local.LocalExecutor",
}


class ExecutorError(Exception):
    """A job cannot run; the message is a sentence for the job's owner."""


class Executor(abc.ABC):
    """Runs one launched training job to a final state."""

    name: str = ""

    @abc.abstractmethod
    def run(self, job_id: str) -> str:
        """Run the queued job ``job_id`` and return its final status.

        Implementations must leave the job in ``succeeded``, ``failed`` or
        ``cancelled`` (or untouched when it was not queued) and must not
        raise for failures of the training itself.
        """


def register_executor(name: str, dotted_path: str) -> None:
    """Make the executor class at ``dotted_path`` available as ``name``."""
    _EXECUTORS[name] = dotted_path


def executor_names() -> list[str]:
    """Return the names of the registered executors."""
    return sorted(_EXECUTORS)


def get_executor(name: str) -> Executor:
    """Return a new instance of the executor registered as ``name``.

    Raises ImproperlyConfigured for an unknown name, because the name comes
    from settings or from a job launched under other settings.
    """
    dotted_path = _EXECUTORS.get(name)
    if dotted_path is None:
        raise ImproperlyConfigured(
            f"Unknown training executor {name!r}; set "
            f"CENTEROS_TRAINING_EXECUTOR to one of {', '.join(executor_names())}."
        )
    executor_class = import_string(dotted_path)
    return executor_class()
