"""Job configuration of the built-in trainer: parsing and validation.

Every check raises TrainerError with a sentence naming the value and the fix,
because the message reaches the user through the job's error event.
"""

import importlib.util
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training import catalog
from training.trainer import BUILTIN_ALIASES, BUILTIN_MODEL_TYPE, TrainerError
from training.trainer.episodes import FILE_TYPES

logger = logging.getLogger(__name__)

MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1_000_000
MAX_HIDDEN_LAYERS = 8
MAX_HIDDEN_SIZE = 4096
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Hyperparameters:
    """Training settings of the bc_mlp policy, with the documented defaults."""

    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    hidden_sizes: tuple[int, ...] = (256, 256)
    seed: int = 0
    validation_split: float = 0.1
    weight_decay: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["hidden_sizes"] = list(self.hidden_sizes)
        return values


@dataclass(frozen=True)
class DatasetFile:
    """One dataset input: an HDF5 file or a LeRobot folder."""

    path: Path
    file_type: str


@dataclass(frozen=True)
class TrainerConfig:
    """A validated training job."""

    job_id: str
    model_type: str
    dataset_files: tuple[DatasetFile, ...]
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    output_path: Path = Path("policy.npz")


def parse_config(raw: Any) -> TrainerConfig:
    """Check a decoded config JSON object and return a TrainerConfig."""
    if not isinstance(raw, dict):
        raise TrainerError("The trainer config must be a JSON object.")
    # Unknown top-level keys are logged, not rejected, so that a newer worker
    # can pass extra job details to an older trainer.
    unknown = set(raw) - {
        "job_id",
        "model_type",
        "dataset_files",
        "hyperparameters",
        "output_path",
    }
    if unknown:
        logger.warning("Ignoring unknown trainer config keys %s", sorted(unknown))

    job_id = raw.get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise TrainerError(f"job_id must be a non-empty string, got {job_id!r}.")

    model_type = check_model_type(raw.get("model_type"))
    dataset_files = _parse_dataset_files(raw.get("dataset_files"))
    raw_hyperparameters = raw.get("hyperparameters")
    hyperparameters = parse_hyperparameters(
        {} if raw_hyperparameters is None else raw_hyperparameters
    )
    output_path = _parse_output_path(raw.get("output_path"))
    return TrainerConfig(
        job_id=job_id,
        model_type=model_type,
        dataset_files=dataset_files,
        hyperparameters=hyperparameters,
        output_path=output_path,
    )


def check_model_type(model_type: Any) -> str:
    """Return ``bc_mlp`` for the built-in model type or one of its aliases.

    Any other model type raises TrainerError. The message names the framework
    and training command the type needs and whether that framework is
    installed on this worker.
    """
    if not isinstance(model_type, str) or not model_type.strip():
        raise TrainerError(
            f"model_type must be a non-empty string, got {model_type!r}; use "
            f"{BUILTIN_MODEL_TYPE} for the built-in trainer."
        )
    key = model_type.strip().lower()
    if key in (BUILTIN_MODEL_TYPE, *BUILTIN_ALIASES):
        return BUILTIN_MODEL_TYPE

    covers = (
        f"The built-in trainer covers only {BUILTIN_MODEL_TYPE} "
        f"(aliases: {', '.join(BUILTIN_ALIASES)})"
    )
    entry = catalog.get_model_type(key)
    if entry is None:
        raise TrainerError(
            f"{covers}, and model type {model_type!r} is not in the fine-tune "
            f"catalog either; use one of {', '.join(catalog.model_types())}."
        )

    framework = catalog.get_framework(entry["framework"]) or {}
    name = framework.get("name", entry["framework"])
    command = framework.get("training_command", "its training command")
    location = _find_installed(framework.get("installed_check", {}))
    if location is None:
        sentences = [
            f"{covers}.",
            f"Model type {entry['model_type']!r} is trained with {name}'s "
            f"`{command}`, which is not installed on this worker.",
            framework.get("install_hint", ""),
            f"Otherwise use model type {BUILTIN_MODEL_TYPE}.",
        ]
        raise TrainerError(" ".join(sentence for sentence in sentences if sentence))
    raise TrainerError(
        f"{covers}. Model type {entry['model_type']!r} is trained with {name}'s "
        f"`{command}`, found on this worker at {location}; run the job through "
        f"{name} instead of the built-in trainer."
    )


def parse_hyperparameters(raw: Any) -> Hyperparameters:
    """Check the hyperparameters object; missing keys take their defaults."""
    if not isinstance(raw, dict):
        raise TrainerError(
            f"hyperparameters must be a JSON object, got {type(raw).__name__}."
        )
    defaults = Hyperparameters()
    known = set(defaults.as_dict())
    unknown = set(raw) - known
    if unknown:
        raise TrainerError(
            f"Unknown hyperparameters {sorted(unknown)}; the bc_mlp trainer "
            f"accepts {', '.join(sorted(known))}."
        )

    epochs = _integer(raw, "epochs", defaults.epochs, 1, MAX_EPOCHS)
    batch_size = _integer(raw, "batch_size", defaults.batch_size, 1, MAX_BATCH_SIZE)
    seed = _integer(raw, "seed", defaults.seed, 0, MAX_SEED)
    learning_rate = _number(raw, "learning_rate", defaults.learning_rate)
    if not 0 < learning_rate <= 1:
        raise TrainerError(
            f"learning_rate must be greater than 0 and at most 1, got "
            f"{learning_rate}; 1e-3 is a good start."
        )
    validation_split = _number(raw, "validation_split", defaults.validation_split)
    if not 0 <= validation_split < 1:
        raise TrainerError(
            f"validation_split must be at least 0 and below 1, got "
            f"{validation_split}; use 0 to train on every sample."
        )
    weight_decay = _number(raw, "weight_decay", defaults.weight_decay)
    if weight_decay < 0:
        raise TrainerError(f"weight_decay must be at least 0, got {weight_decay}.")

    hidden_sizes = raw.get("hidden_sizes", list(defaults.hidden_sizes))
    if (
        not isinstance(hidden_sizes, list)
        or not 1 <= len(hidden_sizes) <= MAX_HIDDEN_LAYERS
        or not all(_is_integer(size) for size in hidden_sizes)
        or not all(1 <= size <= MAX_HIDDEN_SIZE for size in hidden_sizes)
    ):
        raise TrainerError(
            f"hidden_sizes must be a list of 1 to {MAX_HIDDEN_LAYERS} integers "
            f"between 1 and {MAX_HIDDEN_SIZE}, got {hidden_sizes!r}; for example "
            "[256, 256]."
        )

    return Hyperparameters(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        hidden_sizes=tuple(hidden_sizes),
        seed=seed,
        validation_split=validation_split,
        weight_decay=weight_decay,
    )


def _find_installed(check: dict[str, str]) -> str | None:
    """Return where a framework is installed on this worker, or None."""
    executable = check.get("executable")
    if executable:
        return shutil.which(executable)

    module = check.get("python_module")
    if module:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        return spec.origin or f"Python module {module}"
    return None


def _parse_dataset_files(raw: Any) -> tuple[DatasetFile, ...]:
    if not isinstance(raw, list) or not raw:
        raise TrainerError(
            "dataset_files must be a non-empty list of "
            '{"path": ..., "file_type": "hdf5" or "lerobot"} objects.'
        )

    files = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise TrainerError(f"dataset_files[{index}] must be an object.")
        path = item.get("path")
        file_type = item.get("file_type")
        if not isinstance(path, str) or not path:
            raise TrainerError(f"dataset_files[{index}].path must be a string.")
        if file_type not in FILE_TYPES:
            raise TrainerError(
                f"dataset_files[{index}].file_type is {file_type!r}; the built-in "
                f"trainer reads {' and '.join(FILE_TYPES)} datasets."
            )

        resolved = Path(path)
        if file_type == "hdf5" and not resolved.is_file():
            raise TrainerError(f"Dataset file {path} does not exist on this worker.")
        if file_type == "lerobot" and not resolved.is_dir():
            raise TrainerError(
                f"LeRobot dataset folder {path} does not exist on this worker."
            )
        files.append(DatasetFile(resolved, file_type))
    return tuple(files)


def _parse_output_path(raw: Any) -> Path:
    if not isinstance(raw, str) or not raw:
        raise TrainerError("output_path must be a non-empty string.")
    path = Path(raw)
    if path.suffix != ".npz":
        raise TrainerError(
            f"output_path {raw} must end in .npz, the artifact's file format."
        )
    if path.is_dir():
        raise TrainerError(f"output_path {raw} is a directory; give a file path.")
    return path


def _is_integer(value: Any) -> bool:
    # bool is an int subclass, but true/false are never meaningful sizes.
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(raw: dict, key: str, default: int, minimum: int, maximum: int) -> int:
    value = raw.get(key, default)
    if not _is_integer(value) or not minimum <= value <= maximum:
        raise TrainerError(
            f"{key} must be an integer from {minimum} to {maximum}, got {value!r}."
        )
    return value


def _number(raw: dict, key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrainerError(f"{key} must be a number, got {value!r}.")
    if value != value or value in (float("inf"), float("-inf")):
        raise TrainerError(f"{key} must be a finite number, got {value!r}.")
    return float(value)
