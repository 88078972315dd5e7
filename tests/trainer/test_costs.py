"""Training cost estimates: inputs shown, arithmetic right, bad input rejected."""

import pytest

from training import catalog
from training.costs import estimate_cost

BASE_REQUEST = {
    "dataset_bytes": 2_000_000_000,
    "episodes": 50,
    "frames": 40_000,
    "model_type": "act",
    "epochs": None,
    "steps": 100_000,
    "gpu_type": "A100-80GB",
    "gpu_count": 1,
    "provider": "aws",
    "base_model": None,
}


def estimate(**changes):
    return estimate_cost(**{**BASE_REQUEST, **changes})


def test_steps_estimate_arithmetic():
    data = catalog.load_catalog()
    act = catalog.get_model_type("act")
    cost_model = data["cost_model"]
    price = data["gpu_prices"]["providers"]["aws"]["prices"]["A100-80GB"]

    result = estimate()

    samples = 100_000 * act["default_batch_size"]
    throughput = act["throughput_samples_per_second_per_gpu"] * 1.0
    compute = samples / throughput / 3600
    staging = 2_000_000_000 / cost_model["staging_bytes_per_second"] / 3600
    gpu_hours = cost_model["startup_hours"] + staging + compute
    assert result["samples"] == samples
    assert result["batch_size"] == act["default_batch_size"]
    assert result["throughput_samples_per_second_per_gpu"] == throughput
    assert result["compute_hours"] == pytest.approx(compute)
    assert result["staging_hours"] == pytest.approx(staging)
    assert result["gpu_hours"] == pytest.approx(gpu_hours)
    assert result["price_per_gpu_hour_usd"] == price
    assert result["total_usd"] == pytest.approx(gpu_hours * price, abs=0.005)


def test_result_shows_formula_inputs():
    result = estimate()

    for key in (
        "throughput_samples_per_second_per_gpu",
        "samples",
        "steps",
        "epochs",
        "gpu_hours",
        "price_per_gpu_hour_usd",
        "price_as_of",
        "price_provider",
        "total_usd",
        "formula",
    ):
        assert key in result, key
    assert result["price_provider"] == "aws"
    assert result["price_as_of"] == catalog.load_catalog()["gpu_prices"]["as_of"]
    assert "gpu_hours" in result["formula"]
    assert "price_per_gpu_hour_usd" in result["formula"]
    assert result["epochs"] is None
    assert result["length_source"] == "request"


def test_epochs_estimate_uses_frames():
    result = estimate(model_type="bc_mlp", epochs=20, steps=None, provider="gcp")

    assert result["samples"] == 40_000 * 20
    assert result["steps"] is None
    assert result["epochs"] == 20
    assert any("CPU" in warning for warning in result["warnings"])


def test_total_is_gpu_hours_times_price():
    result = estimate(gpu_type="H100", gpu_count=4, provider="lambda")

    expected = result["gpu_hours"] * result["price_per_gpu_hour_usd"]
    assert result["total_usd"] == pytest.approx(expected, abs=0.005)


def test_gpu_speed_scales_throughput():
    reference = estimate(gpu_type="A100-80GB")
    slower = estimate(gpu_type="T4")

    relative = catalog.load_catalog()["gpus"]["T4"]["relative_speed"]
    assert slower["gpu_relative_speed"] == relative
    assert slower["compute_hours"] == pytest.approx(
        reference["compute_hours"] / relative
    )


def test_multi_gpu_applies_efficiency():
    single = estimate(gpu_count=1)
    eight = estimate(gpu_count=8)

    efficiency = catalog.load_catalog()["cost_model"]["multi_gpu_efficiency"]
    assert single["scaling_efficiency"] == 1.0
    assert eight["scaling_efficiency"] == efficiency
    assert eight["compute_hours"] == pytest.approx(
        single["compute_hours"] / (8 * efficiency)
    )
    assert eight["gpu_hours"] == pytest.approx(8 * eight["wall_clock_hours"])


def test_default_length_when_neither_given():
    result = estimate(steps=None, epochs=None, model_type="smolvla")

    assert result["length_source"] == "default"
    assert result["steps"] == catalog.get_model_type("smolvla")["default_steps"]


def test_base_model_throughput_override():
    result = estimate(
        model_type="octo", base_model="rail-berkeley/octo-small-1.5", gpu_count=1
    )

    override = catalog.get_base_model("rail-berkeley/octo-small-1.5")[
        "throughput_samples_per_second_per_gpu"
    ]
    assert result["reference_throughput_samples_per_second"] == override
    assert result["base_model"] == "rail-berkeley/octo-small-1.5"


def test_small_gpu_warns_about_memory():
    result = estimate(
        model_type="openvla",
        base_model="openvla/openvla-7b",
        gpu_type="T4",
        provider="gcp",
    )

    assert any("openvla/openvla-7b" in warning for warning in result["warnings"])


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"gpu_type": "V100"}, "'V100'"),
        ({"provider": "azure"}, "'azure'"),
        ({"model_type": "resnet"}, "'resnet'"),
        ({"base_model": "acme/robot"}, "'acme/robot'"),
        ({"base_model": "openvla/openvla-7b"}, "openvla"),
        ({"provider": "lambda", "gpu_type": "T4"}, "offers no on-demand T4"),
        ({"epochs": 10}, "not both"),
        ({"steps": 0}, "steps"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"gpu_count": True}, "gpu_count"),
        ({"dataset_bytes": -1}, "dataset_bytes"),
        ({"episodes": 50_000}, "episodes"),
        ({"frames": 0, "episodes": 0, "epochs": 5, "steps": None}, "frames is 0"),
    ],
)
def test_invalid_request_raises(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        estimate(**changes)
