"""Cost model for training runs: GPU hours times a dated price per GPU hour.

The estimate is deliberately transparent. It returns every input of the
formula (throughput assumption, samples, overheads, price and its date) next
to the total, so a reader can check the arithmetic and see which numbers are
assumptions. All assumptions come from the fine-tune catalog.
"""

import logging
import math
from typing import Any

from training import catalog

logger = logging.getLogger(__name__)

MAX_GPU_COUNT = 1024

FORMULA = (
    "samples = frames * epochs, or steps * batch_size; "
    "throughput = reference_throughput * gpu_relative_speed; "
    "compute_hours = samples / (throughput * gpu_count * scaling_efficiency) "
    "/ 3600; "
    "staging_hours = dataset_bytes / staging_bytes_per_second / 3600; "
    "gpu_hours = gpu_count * (startup_hours + staging_hours + compute_hours); "
    "total_usd = gpu_hours * price_per_gpu_hour_usd"
)


def estimate_cost(
    *,
    dataset_bytes: int,
    episodes: int,
    frames: int,
    model_type: str,
    epochs: int | None,
    steps: int | None,
    gpu_type: str,
    gpu_count: int,
    provider: str,
    base_model: str | None,
) -> dict[str, Any]:
    """Estimate the GPU hours and the on-demand price of one training run.

    Give ``epochs`` or ``steps``, not both. With neither, the model type's
    default from the catalog is used and ``length_source`` is ``"default"``. Raises
    ValueError with a sentence naming the value for an invalid count, an
    unknown model type, base model, GPU type or provider, or a GPU that the
    provider does not offer.
    """
    _check_count("dataset_bytes", dataset_bytes, minimum=0)
    _check_count("episodes", episodes, minimum=0)
    _check_count("frames", frames, minimum=0)
    _check_count("gpu_count", gpu_count, minimum=1, maximum=MAX_GPU_COUNT)
    if frames and episodes > frames:
        raise ValueError(
            f"episodes ({episodes}) cannot exceed frames ({frames}); "
            "each episode has at least one frame."
        )

    data = catalog.load_catalog()
    type_entry = _resolve_model_type(model_type)
    base_entry = _resolve_base_model(base_model, type_entry)
    gpu = _resolve_gpu(gpu_type, data)
    price, provider_key = _resolve_price(provider, gpu_type, data)

    # Training length: what the request gives, else the model type's default.
    epochs, steps, length_source = _training_length(epochs, steps, type_entry)
    batch_size = type_entry["default_batch_size"]
    if epochs is not None:
        if frames == 0:
            raise ValueError(
                "frames is 0, so an estimate by epochs has no samples; "
                "give the dataset's frame count or use steps instead."
            )
        samples = frames * epochs
    else:
        samples = steps * batch_size

    # Throughput: the base model may override its model type's figure, and
    # the figure assumes the reference GPU, so it scales by relative speed.
    reference_throughput = float(
        (base_entry or {}).get(
            "throughput_samples_per_second_per_gpu",
            type_entry["throughput_samples_per_second_per_gpu"],
        )
    )
    throughput = reference_throughput * gpu["relative_speed"]
    cost_model = data["cost_model"]
    efficiency = 1.0 if gpu_count == 1 else float(cost_model["multi_gpu_efficiency"])

    # GPU hours, billed on every GPU for the whole run.
    compute_hours = samples / (throughput * gpu_count * efficiency) / 3600
    staging_hours = dataset_bytes / cost_model["staging_bytes_per_second"] / 3600
    startup_hours = float(cost_model["startup_hours"])
    wall_clock_hours = startup_hours + staging_hours + compute_hours
    gpu_hours = gpu_count * wall_clock_hours
    total_usd = gpu_hours * price

    warnings = _memory_warnings(base_entry, gpu_type, gpu)
    if type_entry["framework"] == "builtin":
        warnings.append(
            "The built-in bc_mlp trainer runs on the CPU; the GPU price is "
            "shown for comparison only."
        )

    logger.info(
        "Estimated %s on %dx %s at %s: %.4f GPU hours, %.2f USD",
        type_entry["model_type"],
        gpu_count,
        gpu_type,
        provider_key,
        gpu_hours,
        total_usd,
    )
    return {
        "model_type": type_entry["model_type"],
        "base_model": base_entry["name"] if base_entry else None,
        "provider": provider_key,
        "gpu_type": gpu_type,
        "gpu_count": gpu_count,
        "dataset_bytes": dataset_bytes,
        "episodes": episodes,
        "frames": frames,
        "epochs": epochs,
        "steps": steps,
        "length_source": length_source,
        "batch_size": batch_size,
        "samples": samples,
        "reference_gpu": cost_model["reference_gpu"],
        "reference_throughput_samples_per_second": reference_throughput,
        "gpu_relative_speed": gpu["relative_speed"],
        "throughput_samples_per_second_per_gpu": throughput,
        "scaling_efficiency": efficiency,
        "compute_hours": compute_hours,
        "staging_bytes_per_second": cost_model["staging_bytes_per_second"],
        "staging_hours": staging_hours,
        "startup_hours": startup_hours,
        "wall_clock_hours": wall_clock_hours,
        "gpu_hours": gpu_hours,
        "price_per_gpu_hour_usd": price,
        "price_as_of": data["gpu_prices"]["as_of"],
        "price_provider": provider_key,
        "currency": data["gpu_prices"]["currency"],
        "total_usd": round(total_usd, 2),
        "formula": FORMULA,
        "assumptions": [
            type_entry.get("note", ""),
            cost_model.get("note", ""),
            data["gpu_prices"]["note"],
        ],
        "warnings": warnings,
        "catalog_version": data["version"],
    }


def _check_count(name: str, value: Any, *, minimum: int, maximum: int | None = None):
    # bool is an int subclass, but True is never a meaningful count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}.")


def _resolve_model_type(model_type: Any) -> dict[str, Any]:
    entry = catalog.get_model_type(model_type) if isinstance(model_type, str) else None
    if entry is None:
        raise ValueError(
            f"Unknown model_type {model_type!r}; use one of "
            f"{', '.join(catalog.model_types())}."
        )
    return entry


def _resolve_base_model(
    base_model: str | None, type_entry: dict[str, Any]
) -> dict[str, Any] | None:
    if base_model is None:
        return None
    entry = catalog.get_base_model(base_model) if isinstance(base_model, str) else None
    if entry is None:
        names = [model["name"] for model in catalog.load_catalog()["models"]]
        raise ValueError(
            f"Unknown base_model {base_model!r}; use one of {', '.join(names)}."
        )
    if entry["model_type"] != type_entry["model_type"]:
        raise ValueError(
            f"Base model {base_model!r} is a {entry['model_type']} model, not "
            f"{type_entry['model_type']}; pick a base model of that type or "
            f"set model_type to {entry['model_type']}."
        )
    return entry


def _resolve_gpu(gpu_type: Any, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(gpu_type, str) or gpu_type not in data["gpus"]:
        raise ValueError(
            f"Unknown gpu_type {gpu_type!r}; use one of {', '.join(data['gpus'])}."
        )
    return data["gpus"][gpu_type]


def _resolve_price(provider: Any, gpu_type: str, data: dict[str, Any]):
    providers = data["gpu_prices"]["providers"]
    key = provider.strip().lower() if isinstance(provider, str) else None
    if key not in providers:
        raise ValueError(
            f"Unknown provider {provider!r}; use one of {', '.join(providers)}."
        )

    price = providers[key]["prices"][gpu_type]
    if price is None:
        offered = [gpu for gpu, value in providers[key]["prices"].items() if value]
        raise ValueError(
            f"Provider {key!r} offers no on-demand {gpu_type}; choose one of "
            f"{', '.join(offered)} or another provider."
        )
    return float(price), key


def _training_length(
    epochs: Any, steps: Any, type_entry: dict[str, Any]
) -> tuple[int | None, int | None, str]:
    if epochs is not None and steps is not None:
        raise ValueError(
            f"Give epochs or steps, not both (got epochs={epochs}, steps={steps})."
        )
    if epochs is not None:
        _check_count("epochs", epochs, minimum=1)
        return epochs, None, "request"
    if steps is not None:
        _check_count("steps", steps, minimum=1)
        return None, steps, "request"

    # Neither given: the framework's usual length, epochs first.
    if type_entry.get("default_epochs"):
        return int(type_entry["default_epochs"]), None, "default"
    return None, int(type_entry["default_steps"]), "default"


def _memory_warnings(
    base_entry: dict[str, Any] | None, gpu_type: str, gpu: dict[str, Any]
) -> list[str]:
    if base_entry is None:
        return []
    needed = base_entry["min_gpu_memory_gb"]
    if needed and needed > gpu["memory_gb"]:
        return [
            f"{base_entry['name']} needs about {_format_gb(needed)} GB of GPU "
            f"memory but a {gpu_type} has {_format_gb(gpu['memory_gb'])} GB; "
            "pick a larger GPU or shard the model across GPUs."
        ]
    return []


def _format_gb(value: float) -> str:
    return str(int(value)) if math.isclose(value, round(value)) else f"{value:g}"
