"""MLP gradients, AdamW, artifact round trip and artifact validation."""

import json

import numpy as np
import pytest

from training.trainer.policy import (
    MLP,
    AdamW,
    Normalisation,
    PolicyLoadError,
    load_policy,
    save_policy,
)


def small_policy_parts(rng):
    model = MLP.initialise([3, 5, 2], rng)
    normalisation = Normalisation(
        obs_mean=np.array([1.0, -2.0, 0.5]),
        obs_std=np.array([2.0, 0.5, 1.0]),
        action_mean=np.array([10.0, -1.0]),
        action_std=np.array([3.0, 0.25]),
    )
    config = {
        "model_type": "bc_mlp",
        "layer_sizes": [3, 5, 2],
        "observation_dim": 3,
        "action_dim": 2,
    }
    return model, normalisation, config


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    model = MLP.initialise([4, 6, 5, 3], rng)
    model.weights = [weight.astype(np.float64) for weight in model.weights]
    model.biases = [rng.standard_normal(b.shape) * 0.1 for b in model.biases]
    inputs = rng.standard_normal((7, 4))
    targets = rng.standard_normal((7, 3))

    _, weight_grads, bias_grads = model.loss_and_gradients(inputs, targets)

    step = 1e-6
    for parameters, grads in (
        (model.weights, weight_grads),
        (model.biases, bias_grads),
    ):
        for parameter, grad in zip(parameters, grads, strict=True):
            numeric = np.zeros_like(parameter)
            for index in np.ndindex(parameter.shape):
                original = parameter[index]
                parameter[index] = original + step
                plus, _, _ = model.loss_and_gradients(inputs, targets)
                parameter[index] = original - step
                minus, _, _ = model.loss_and_gradients(inputs, targets)
                parameter[index] = original
                numeric[index] = (plus - minus) / (2 * step)
            np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_adamw_fits_linear_map():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((256, 4)).astype(np.float32)
    targets = (inputs @ rng.standard_normal((4, 2))).astype(np.float32)
    model = MLP.initialise([4, 16, 2], rng)
    optimizer = AdamW(model, learning_rate=1e-2, weight_decay=0.0)

    first, _, _ = model.loss_and_gradients(inputs, targets)
    for _ in range(300):
        loss, weight_grads, bias_grads = model.loss_and_gradients(inputs, targets)
        optimizer.step(weight_grads, bias_grads)

    assert loss < first / 20


def test_weight_decay_shrinks_weights_not_biases():
    rng = np.random.default_rng(0)
    model = MLP.initialise([3, 4, 2], rng)
    model.biases = [np.ones_like(bias) for bias in model.biases]
    norm_before = sum(float(np.abs(w).sum()) for w in model.weights)
    optimizer = AdamW(model, learning_rate=1e-2, weight_decay=0.5)
    zero_weights = [np.zeros_like(w) for w in model.weights]
    zero_biases = [np.zeros_like(b) for b in model.biases]

    for _ in range(10):
        optimizer.step(zero_weights, zero_biases)

    assert sum(float(np.abs(w).sum()) for w in model.weights) < norm_before
    for bias in model.biases:
        np.testing.assert_array_equal(bias, 1.0)


def test_artifact_round_trip_predicts_same(tmp_path):
    model, normalisation, config = small_policy_parts(np.random.default_rng(1))
    path = tmp_path / "policy.npz"
    observations = np.random.default_rng(2).standard_normal((6, 3))
    normalised = (observations - normalisation.obs_mean) / normalisation.obs_std
    expected = (
        model.forward(normalised.astype(np.float32)) * normalisation.action_std
        + normalisation.action_mean
    )

    save_policy(path, model, normalisation, config)
    policy = load_policy(path)

    assert policy.config == config
    np.testing.assert_allclose(policy.predict(observations), expected, rtol=1e-5)
    np.testing.assert_allclose(policy.predict(observations[0]), expected[0], rtol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["policy.npz"]


def test_predict_rejects_wrong_width(tmp_path):
    model, normalisation, config = small_policy_parts(np.random.default_rng(1))
    save_policy(tmp_path / "policy.npz", model, normalisation, config)
    policy = load_policy(tmp_path / "policy.npz")

    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        policy.predict(np.zeros((2, 4)))


def test_load_missing_file(tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(tmp_path / "absent.npz")


def test_load_non_archive(tmp_path):
    path = tmp_path / "policy.npz"
    path.write_bytes(b"not a zip archive")

    with pytest.raises(PolicyLoadError, match="not a readable npz"):
        load_policy(path)


def _resave(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("weight_1"), "no 'weight_1'"),
        (lambda a: a.update(weight_0=np.zeros((3, 4), np.float32)), "'weight_0'"),
        (lambda a: a.update(obs_std=np.array([1.0, 0.0, 1.0])), "'obs_std'"),
        (lambda a: a.update(action_mean=np.zeros(3)), "'action_mean'"),
        (lambda a: a.update(config=np.array("{")), "not JSON"),
        (
            lambda a: a.update(config=np.array(json.dumps({"model_type": "bc_mlp"}))),
            "without layer_sizes",
        ),
        (lambda a: a.update(bias_0=np.full(5, np.nan, np.float32)), "'bias_0'"),
    ],
)
def test_load_rejects_inconsistent_artifact(tmp_path, change, message):
    model, normalisation, config = small_policy_parts(np.random.default_rng(1))
    path = tmp_path / "policy.npz"
    save_policy(path, model, normalisation, config)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    _resave(path, arrays)

    with pytest.raises(PolicyLoadError, match=message):
        load_policy(path)
