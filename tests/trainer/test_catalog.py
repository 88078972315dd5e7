"""Fine-tune catalog: file shape, look-ups and cross-references."""

import datetime

import pytest

from training import catalog

EXPECTED_MODELS = {
    "bc_mlp": "bc_mlp",
    "lerobot/act": "act",
    "lerobot/diffusion_policy": "diffusion_policy",
    "lerobot/smolvla_base": "smolvla",
    "lerobot/pi0": "pi0",
    "openpi/pi0_base": "pi0_openpi",
    "openpi/pi0_fast_base": "pi0_fast",
    "nvidia/GR00T-N1.5-3B": "gr00t_n1_5",
    "openvla/openvla-7b": "openvla",
    "rail-berkeley/octo-base-1.5": "octo",
    "rail-berkeley/octo-small-1.5": "octo",
}
GPU_TYPES = {"T4", "L4", "A10G", "A100-40GB", "A100-80GB", "H100"}


def test_catalog_version_is_a_date():
    data = catalog.load_catalog()

    assert datetime.date.fromisoformat(data["version"])
    assert datetime.date.fromisoformat(data["gpu_prices"]["as_of"])


def test_catalog_lists_expected_models():
    models = {model["name"]: model for model in catalog.load_catalog()["models"]}

    assert set(EXPECTED_MODELS) <= set(models)
    for name, model_type in EXPECTED_MODELS.items():
        assert models[name]["model_type"] == model_type, name


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS))
def test_model_entry_fields(name):
    model = catalog.get_base_model(name)

    assert model is not None
    assert model["provider"] in {p["id"] for p in catalog.load_catalog()["providers"]}
    assert model["parameters"] is None or model["parameters"] > 0
    assert set(model["modes"]) <= {"train", "finetune"}
    assert model["modes"]
    assert model["min_gpu_memory_gb"] >= 0
    assert isinstance(model["licence"], str) and model["licence"]
    assert model["framework"]


def test_parameter_counts_of_known_models():
    assert catalog.get_base_model("lerobot/smolvla_base")["parameters"] == 450_000_000
    assert catalog.get_base_model("rail-berkeley/octo-base-1.5")["parameters"] == (
        93_000_000
    )
    assert catalog.get_base_model("rail-berkeley/octo-small-1.5")["parameters"] == (
        27_000_000
    )


def test_gpu_prices_per_provider():
    prices = catalog.load_catalog()["gpu_prices"]

    assert prices["currency"] == "USD"
    assert "approximate" in prices["note"].lower()
    assert "list prices" in prices["note"].lower()
    assert {"gcp", "aws", "lambda"} <= set(prices["providers"])
    for provider, table in prices["providers"].items():
        assert set(table["prices"]) == GPU_TYPES, provider
        offered = [price for price in table["prices"].values() if price is not None]
        assert offered, provider
        assert all(price > 0 for price in offered), provider


def test_model_types_include_every_model():
    types = catalog.model_types()

    assert types[0] == "bc_mlp"
    assert len(types) == len(set(types))
    for model in catalog.load_catalog()["models"]:
        assert model["model_type"] in types


def test_model_type_aliases_resolve():
    assert catalog.resolve_model_type("BC") == "bc_mlp"
    assert catalog.resolve_model_type("diffusion") == "diffusion_policy"
    assert catalog.resolve_model_type("no_such_type") is None


def test_every_model_type_has_throughput():
    for name in catalog.model_types():
        entry = catalog.get_model_type(name)
        assert entry["throughput_samples_per_second_per_gpu"] > 0, name
        assert entry["default_batch_size"] > 0, name
        assert entry["default_epochs"] or entry["default_steps"], name
        assert catalog.get_framework(entry["framework"]) is not None, name


def test_unknown_base_model_is_none():
    assert catalog.get_base_model("acme/robot-gpt") is None


def test_load_catalog_returns_a_copy():
    first = catalog.load_catalog()
    first["models"].clear()

    assert catalog.load_catalog()["models"]
    assert catalog.get_base_model("bc_mlp") is not None
