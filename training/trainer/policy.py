"""MLP policy: numpy forward and backward passes, AdamW, and the artifact file.

An artifact is one ``.npz`` file with the arrays ``weight_0..weight_{L-1}``
and ``bias_0..bias_{L-1}`` (layer ``i`` maps ``x @ weight_i + bias_i``, ReLU
between layers, linear output), the normalisation arrays ``obs_mean``,
``obs_std``, ``action_mean`` and ``action_std``, and ``config``, a JSON
string. The network maps normalised observations to normalised actions.
``load_policy`` checks all of it before returning a ``Policy``.
"""

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NORMALISATION_KEYS = ("obs_mean", "obs_std", "action_mean", "action_std")
CONFIG_KEY = "config"
REQUIRED_CONFIG_KEYS = ("model_type", "layer_sizes", "observation_dim", "action_dim")


class PolicyLoadError(ValueError):
    """An artifact file is missing, unreadable or inconsistent."""


@dataclass
class Normalisation:
    """Per-dimension mean and standard deviation of observations and actions."""

    obs_mean: np.ndarray
    obs_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray


class MLP:
    """Fully connected ReLU network with a linear output layer."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]):
        self.weights = weights
        self.biases = biases

    @classmethod
    def initialise(cls, layer_sizes: Sequence[int], rng: np.random.Generator):
        """Create a network with He-normal weights and zero biases.

        He initialisation keeps the activation variance stable through ReLU
        layers. The output layer uses variance 1/fan_in because it is linear.
        """
        weights = []
        biases = []
        last = len(layer_sizes) - 2
        for index, (fan_in, fan_out) in enumerate(
            zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
        ):
            gain = 1.0 if index == last else 2.0
            scale = np.sqrt(gain / fan_in)
            weights.append(
                (rng.standard_normal((fan_in, fan_out)) * scale).astype(np.float32)
            )
            biases.append(np.zeros(fan_out, dtype=np.float32))
        return cls(weights, biases)

    @property
    def layer_sizes(self) -> list[int]:
        return [self.weights[0].shape[0], *(w.shape[1] for w in self.weights)]

    @property
    def parameter_count(self) -> int:
        return sum(
            w.size + b.size for w, b in zip(self.weights, self.biases, strict=True)
        )

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        outputs, _ = self._forward_with_activations(inputs)
        return outputs

    def loss_and_gradients(
        self, inputs: np.ndarray, targets: np.ndarray
    ) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Return the MSE loss and its gradients for weights and biases."""
        outputs, activations = self._forward_with_activations(inputs)
        error = outputs - targets
        loss = float(np.mean(error**2))

        # d(mean squared error)/d(outputs), then back through each layer.
        delta = (2.0 / error.size) * error
        weight_grads: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        bias_grads: list[np.ndarray] = [np.empty(0)] * len(self.biases)
        for index in range(len(self.weights) - 1, -1, -1):
            layer_input = activations[index]
            weight_grads[index] = layer_input.T @ delta
            bias_grads[index] = delta.sum(axis=0)
            if index > 0:
                # ReLU passes gradient only where its output was positive.
                delta = (delta @ self.weights[index].T) * (layer_input > 0)
        return loss, weight_grads, bias_grads

    def _forward_with_activations(self, inputs: np.ndarray):
        activations = [inputs]
        hidden = inputs
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(
            zip(self.weights, self.biases, strict=True)
        ):
            hidden = hidden @ weight + bias
            if index < last:
                hidden = np.maximum(hidden, 0.0)
                activations.append(hidden)
        return hidden, activations


class AdamW:
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    Weight decay applies to weight matrices only, not to biases.
    """

    def __init__(
        self,
        model: MLP,
        *,
        learning_rate: float,
        weight_decay: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        self.model = model
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.step_count = 0
        parameters = [*model.weights, *model.biases]
        self._first_moments = [np.zeros_like(p) for p in parameters]
        self._second_moments = [np.zeros_like(p) for p in parameters]

    def step(self, weight_grads: list[np.ndarray], bias_grads: list[np.ndarray]):
        """Update the model's parameters in place with one set of gradients."""
        self.step_count += 1
        correction1 = 1.0 - self.beta1**self.step_count
        correction2 = 1.0 - self.beta2**self.step_count
        parameters = [*self.model.weights, *self.model.biases]
        gradients = [*weight_grads, *bias_grads]
        weight_count = len(self.model.weights)

        for index, (parameter, gradient) in enumerate(
            zip(parameters, gradients, strict=True)
        ):
            first = self._first_moments[index]
            second = self._second_moments[index]
            first *= self.beta1
            first += (1.0 - self.beta1) * gradient
            second *= self.beta2
            second += (1.0 - self.beta2) * gradient**2

            update = (first / correction1) / (
                np.sqrt(second / correction2) + self.epsilon
            )
            if self.weight_decay and index < weight_count:
                update = update + self.weight_decay * parameter
            parameter -= (self.learning_rate * update).astype(parameter.dtype)


class Policy:
    """A trained policy that maps raw observations to raw actions."""

    def __init__(self, model: MLP, normalisation: Normalisation, config: dict):
        self.model = model
        self.normalisation = normalisation
        self.config = config

    @property
    def observation_dim(self) -> int:
        return int(self.config["observation_dim"])

    @property
    def action_dim(self) -> int:
        return int(self.config["action_dim"])

    def predict(self, observations: np.ndarray) -> np.ndarray:
        """Return denormalised actions for observations.

        ``observations`` has shape ``(observation_dim,)`` or
        ``(N, observation_dim)``; the result has ``(action_dim,)`` or
        ``(N, action_dim)`` to match.
        """
        array = np.asarray(observations, dtype=np.float64)
        single = array.ndim == 1
        batch = array[None, :] if single else array
        if batch.ndim != 2 or batch.shape[1] != self.observation_dim:
            raise ValueError(
                f"observations must have shape ({self.observation_dim},) or "
                f"(N, {self.observation_dim}), got {array.shape}."
            )

        norm = self.normalisation
        inputs = ((batch - norm.obs_mean) / norm.obs_std).astype(np.float32)
        outputs = self.model.forward(inputs).astype(np.float64)
        actions = outputs * norm.action_std + norm.action_mean
        return actions[0] if single else actions


def save_policy(
    path: Path, model: MLP, normalisation: Normalisation, config: dict
) -> None:
    """Write an artifact atomically: to a temporary file, then rename it.

    A reader never sees a half-written artifact, and a failed or cancelled
    write leaves no file at ``path``.
    """
    arrays: dict[str, np.ndarray] = {}
    for index, (weight, bias) in enumerate(
        zip(model.weights, model.biases, strict=True)
    ):
        arrays[f"weight_{index}"] = weight
        arrays[f"bias_{index}"] = bias
    for key in NORMALISATION_KEYS:
        arrays[key] = np.asarray(getattr(normalisation, key), dtype=np.float64)
    arrays[CONFIG_KEY] = np.array(json.dumps(config, sort_keys=True))

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        # BaseException too: a cancellation must not leave the temporary file.
        Path(temporary).unlink(missing_ok=True)
        raise


def load_policy(path: str | os.PathLike) -> Policy:
    """Load and check an artifact written by the built-in trainer.

    Raises PolicyLoadError if the file is missing, is not an npz archive,
    lacks an array, has a config that is not JSON with the required keys, or
    has layer shapes or normalisation arrays that do not fit together.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise PolicyLoadError(f"Policy file {path} does not exist.")
    except (OSError, ValueError) as error:
        raise PolicyLoadError(
            f"Policy file {path} is not a readable npz archive ({error})."
        ) from error
    if not hasattr(archive, "files"):
        raise PolicyLoadError(f"Policy file {path} is a single array, not an archive.")

    with archive:
        arrays = {name: archive[name] for name in archive.files}

    config = _parse_config(path, arrays)
    model = _build_model(path, arrays, config)
    normalisation = _build_normalisation(path, arrays, config)
    return Policy(model, normalisation, config)


def _parse_config(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if CONFIG_KEY not in arrays:
        raise PolicyLoadError(f"Policy file {path} has no '{CONFIG_KEY}' entry.")
    try:
        config = json.loads(str(arrays[CONFIG_KEY]))
    except json.JSONDecodeError as error:
        raise PolicyLoadError(
            f"Policy file {path} has a config that is not JSON ({error})."
        ) from error
    if not isinstance(config, dict):
        raise PolicyLoadError(f"Policy file {path} has a config that is not an object.")

    missing = [key for key in REQUIRED_CONFIG_KEYS if key not in config]
    if missing:
        raise PolicyLoadError(
            f"Policy file {path} has a config without {', '.join(missing)}."
        )
    sizes = config["layer_sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(size, int) and size > 0 for size in sizes)
    ):
        raise PolicyLoadError(
            f"Policy file {path} has invalid layer_sizes {sizes!r}; expected a "
            "list of at least two positive integers."
        )
    if sizes[0] != config["observation_dim"] or sizes[-1] != config["action_dim"]:
        raise PolicyLoadError(
            f"Policy file {path} has layer_sizes {sizes} that do not start at "
            f"observation_dim {config['observation_dim']} and end at action_dim "
            f"{config['action_dim']}."
        )
    return config


def _build_model(path: Path, arrays: dict[str, np.ndarray], config: dict) -> MLP:
    sizes = config["layer_sizes"]
    weights = []
    biases = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        for key, shape in (
            (f"weight_{index}", (fan_in, fan_out)),
            (f"bias_{index}", (fan_out,)),
        ):
            if key not in arrays:
                raise PolicyLoadError(f"Policy file {path} has no '{key}' array.")
            if arrays[key].shape != shape:
                raise PolicyLoadError(
                    f"Policy file {path} has '{key}' of shape {arrays[key].shape}, "
                    f"expected {shape} from layer_sizes {sizes}."
                )
            if arrays[key].dtype.kind != "f" or not np.isfinite(arrays[key]).all():
                raise PolicyLoadError(
                    f"Policy file {path} has '{key}' that is not finite floats."
                )
        weights.append(arrays[f"weight_{index}"].astype(np.float32))
        biases.append(arrays[f"bias_{index}"].astype(np.float32))

    extra = f"weight_{len(sizes) - 1}"
    if extra in arrays:
        raise PolicyLoadError(
            f"Policy file {path} has more weight arrays than layer_sizes {sizes}."
        )
    return MLP(weights, biases)


def _build_normalisation(
    path: Path, arrays: dict[str, np.ndarray], config: dict
) -> Normalisation:
    expected = {
        "obs_mean": config["observation_dim"],
        "obs_std": config["observation_dim"],
        "action_mean": config["action_dim"],
        "action_std": config["action_dim"],
    }
    values = {}
    for key, size in expected.items():
        if key not in arrays:
            raise PolicyLoadError(f"Policy file {path} has no '{key}' array.")
        array = arrays[key]
        if array.shape != (size,) or array.dtype.kind != "f":
            raise PolicyLoadError(
                f"Policy file {path} has '{key}' of shape {array.shape} and dtype "
                f"{array.dtype}, expected ({size},) floats."
            )
        if not np.isfinite(array).all():
            raise PolicyLoadError(f"Policy file {path} has non-finite '{key}'.")
        values[key] = array.astype(np.float64)

    for key in ("obs_std", "action_std"):
        if not (values[key] > 0).all():
            raise PolicyLoadError(
                f"Policy file {path} has '{key}' with zero or negative entries."
            )
    return Normalisation(**values)
