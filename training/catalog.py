"""Fine-tune catalog: base models, their frameworks and dated GPU prices.

The catalog is a versioned data file, ``training/data/finetune_catalog.json``,
so that prices and model facts change by editing data, not code. This module
loads and checks it once per process and looks entries up by model name and
model type. It imports nothing from Django because the built-in trainer
subprocess uses it too.
"""

import copy
import functools
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CATALOG_PATH = Path(__file__).resolve().parent / "data" / "finetune_catalog.json"

_MODEL_FIELDS = (
    "name",
    "provider",
    "framework",
    "model_type",
    "parameters",
    "modes",
    "min_gpu_memory_gb",
    "licence",
)
_MODEL_TYPE_FIELDS = (
    "model_type",
    "aliases",
    "framework",
    "throughput_samples_per_second_per_gpu",
    "default_batch_size",
)
_MODES = {"train", "finetune"}


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or inconsistent."""


def load_catalog() -> dict[str, Any]:
    """Return the fine-tune catalog as a dict.

    The file is read and checked once per process. Each call returns a deep
    copy, so a caller that edits the result cannot change later results.
    """
    return copy.deepcopy(_load_checked_catalog())


def get_base_model(name: str) -> dict[str, Any] | None:
    """Return the catalog entry of the base model ``name``, or None."""
    for model in _load_checked_catalog()["models"]:
        if model["name"] == name:
            return copy.deepcopy(model)
    return None


def model_types() -> list[str]:
    """Return the canonical model type names, in catalog order."""
    return [entry["model_type"] for entry in _load_checked_catalog()["model_types"]]


def resolve_model_type(name: str) -> str | None:
    """Return the canonical model type for ``name`` or one of its aliases."""
    entry = get_model_type(name)
    if entry is None:
        return None
    return entry["model_type"]


def get_model_type(name: str) -> dict[str, Any] | None:
    """Return the model type entry for a canonical name or alias, or None.

    Matching ignores case and surrounding whitespace.
    """
    key = name.strip().lower()
    for entry in _load_checked_catalog()["model_types"]:
        names = [entry["model_type"], *entry["aliases"]]
        if key in (candidate.lower() for candidate in names):
            return copy.deepcopy(entry)
    return None


def get_framework(framework_id: str) -> dict[str, Any] | None:
    """Return the framework entry (training command, install check), or None."""
    for framework in _load_checked_catalog()["frameworks"]:
        if framework["id"] == framework_id:
            return copy.deepcopy(framework)
    return None


@functools.cache
def _load_checked_catalog() -> dict[str, Any]:
    try:
        text = CATALOG_PATH.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(
            f"The fine-tune catalog {CATALOG_PATH} could not be read ({error}); "
            "reinstall CenterOS or restore the file."
        ) from error

    try:
        catalog = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError(
            f"The fine-tune catalog {CATALOG_PATH} is not valid JSON ({error}); "
            "fix the file."
        ) from error

    _check_catalog(catalog)
    logger.info(
        "Loaded fine-tune catalog version %s with %d models",
        catalog["version"],
        len(catalog["models"]),
    )
    return catalog


def _check_catalog(catalog: Any) -> None:
    """Raise CatalogError unless every cross-reference in the catalog holds."""
    if not isinstance(catalog, dict):
        raise CatalogError("The fine-tune catalog must be a JSON object.")
    for key in (
        "version",
        "providers",
        "frameworks",
        "model_types",
        "models",
        "gpus",
        "cost_model",
        "gpu_prices",
    ):
        if key not in catalog:
            raise CatalogError(f"The fine-tune catalog has no '{key}' entry.")

    provider_ids = {provider["id"] for provider in catalog["providers"]}
    framework_ids = {framework["id"] for framework in catalog["frameworks"]}

    # Model types: required fields, known frameworks, unique names and aliases.
    seen_names: set[str] = set()
    for entry in catalog["model_types"]:
        _require_fields(entry, _MODEL_TYPE_FIELDS, "model type")
        if entry["framework"] not in framework_ids:
            raise CatalogError(
                f"Model type '{entry['model_type']}' names unknown framework "
                f"'{entry['framework']}'."
            )
        if entry["throughput_samples_per_second_per_gpu"] <= 0:
            raise CatalogError(
                f"Model type '{entry['model_type']}' needs a positive throughput."
            )
        for name in [entry["model_type"], *entry["aliases"]]:
            if name.lower() in seen_names:
                raise CatalogError(f"Model type name '{name}' appears twice.")
            seen_names.add(name.lower())
    type_names = {entry["model_type"] for entry in catalog["model_types"]}

    # Models: required fields and references to providers, frameworks, types.
    model_names: set[str] = set()
    for model in catalog["models"]:
        _require_fields(model, _MODEL_FIELDS, "model")
        if model["name"] in model_names:
            raise CatalogError(f"Model '{model['name']}' appears twice.")
        model_names.add(model["name"])
        if model["provider"] not in provider_ids:
            raise CatalogError(
                f"Model '{model['name']}' names unknown provider '{model['provider']}'."
            )
        if model["framework"] not in framework_ids:
            raise CatalogError(
                f"Model '{model['name']}' names unknown framework "
                f"'{model['framework']}'."
            )
        if model["model_type"] not in type_names:
            raise CatalogError(
                f"Model '{model['name']}' names unknown model type "
                f"'{model['model_type']}'."
            )
        if not model["modes"] or not set(model["modes"]) <= _MODES:
            raise CatalogError(
                f"Model '{model['name']}' has modes {model['modes']}; "
                "each must be 'train' or 'finetune'."
            )

    # GPU prices: every provider prices exactly the GPUs in the gpus table.
    gpu_names = set(catalog["gpus"])
    prices = catalog["gpu_prices"]
    for key in ("as_of", "currency", "providers"):
        if key not in prices:
            raise CatalogError(f"The catalog's gpu_prices has no '{key}' entry.")
    for provider, table in prices["providers"].items():
        if set(table["prices"]) != gpu_names:
            raise CatalogError(
                f"GPU provider '{provider}' must list a price (or null) for "
                f"each of {sorted(gpu_names)}."
            )
        for gpu, price in table["prices"].items():
            if price is not None and price <= 0:
                raise CatalogError(
                    f"GPU provider '{provider}' has a non-positive price for {gpu}."
                )
    if catalog["cost_model"]["reference_gpu"] not in gpu_names:
        raise CatalogError("The catalog's cost_model names an unknown reference GPU.")


def _require_fields(entry: Any, fields: tuple[str, ...], kind: str) -> None:
    if not isinstance(entry, dict):
        raise CatalogError(f"Each catalog {kind} must be a JSON object.")
    missing = [field for field in fields if field not in entry]
    if missing:
        label = entry.get("name") or entry.get("model_type") or "?"
        raise CatalogError(
            f"Catalog {kind} '{label}' is missing the fields {', '.join(missing)}."
        )
