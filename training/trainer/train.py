"""Behaviour-cloning training loop of the built-in trainer.

``run_training`` reads the episodes, splits them into training and
validation sets, normalises observations and actions with training-set
statistics, fits the MLP with AdamW on the mean squared error of normalised
actions, and writes the artifact. It reports progress through an ``emit``
callback that receives one event dict at a time.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.trainer import TRAINER_VERSION, TrainerError
from training.trainer.config import TrainerConfig
from training.trainer.episodes import Episode, iter_episodes
from training.trainer.policy import MLP, AdamW, Normalisation, save_policy

logger = logging.getLogger(__name__)

# Dimensions whose standard deviation is below this are constant in the data;
# they are divided by 1 instead, so normalisation cannot blow them up.
MIN_STD = 1e-6

EVALUATION_CHUNK = 8192

Emit = Callable[[dict[str, Any]], None]


@dataclass
class Samples:
    """All (observation, action) pairs, with the episode each row came from."""

    observations: np.ndarray
    actions: np.ndarray
    episode_ids: np.ndarray
    episode_count: int
    observation_keys: tuple[str, ...]


def run_training(config: TrainerConfig, emit: Emit) -> dict[str, Any]:
    """Train a bc_mlp policy for one job and return the ``done`` event."""
    hyper = config.hyperparameters
    rng = np.random.default_rng(hyper.seed)
    started = time.monotonic()

    samples = load_samples(config)
    train_rows, val_rows = split_rows(samples, hyper.validation_split, rng)
    normalisation = compute_normalisation(
        samples.observations[train_rows], samples.actions[train_rows]
    )
    train_x, train_y = _normalise(samples, train_rows, normalisation)
    val_x, val_y = _normalise(samples, val_rows, normalisation)

    observation_dim = samples.observations.shape[1]
    action_dim = samples.actions.shape[1]
    layer_sizes = [observation_dim, *hyper.hidden_sizes, action_dim]
    model = MLP.initialise(layer_sizes, rng)
    optimizer = AdamW(
        model, learning_rate=hyper.learning_rate, weight_decay=hyper.weight_decay
    )
    logger.info(
        "Job %s: training %s on %d samples (%d validation) from %d episodes, "
        "%d parameters",
        config.job_id,
        layer_sizes,
        len(train_rows),
        len(val_rows),
        samples.episode_count,
        model.parameter_count,
    )
    emit(
        {
            "event": "start",
            "episodes": samples.episode_count,
            "samples": int(samples.actions.shape[0]),
            "observation_dim": observation_dim,
            "action_dim": action_dim,
            "epochs": hyper.epochs,
        }
    )

    # One pass over shuffled minibatches per epoch; validation after each.
    loss = float("nan")
    val_loss: float | None = None
    for epoch in range(1, hyper.epochs + 1):
        loss = _train_epoch(model, optimizer, train_x, train_y, hyper.batch_size, rng)
        val_loss = _evaluate(model, val_x, val_y)
        if not np.isfinite(loss) or (
            val_loss is not None and not np.isfinite(val_loss)
        ):
            raise TrainerError(
                f"Training diverged at epoch {epoch} (loss {loss}); lower "
                f"learning_rate (now {hyper.learning_rate})."
            )
        emit(
            {
                "event": "epoch",
                "epoch": epoch,
                "epochs": hyper.epochs,
                "loss": loss,
                "val_loss": val_loss,
                "progress": epoch / hyper.epochs,
            }
        )
        logger.info(
            "Job %s: epoch %d/%d loss %.6f val_loss %s",
            config.job_id,
            epoch,
            hyper.epochs,
            loss,
            "none" if val_loss is None else f"{val_loss:.6f}",
        )

    # The artifact records everything needed to rebuild and audit the policy.
    policy_config = {
        "model_type": config.model_type,
        "layer_sizes": layer_sizes,
        "activation": "relu",
        "observation_dim": observation_dim,
        "action_dim": action_dim,
        "observation_keys": list(samples.observation_keys),
        "hyperparameters": hyper.as_dict(),
        "dataset_files": [file.path.name for file in config.dataset_files],
        "episodes": samples.episode_count,
        "samples": int(samples.actions.shape[0]),
        "trainer_version": TRAINER_VERSION,
        "final_loss": loss,
        "final_val_loss": val_loss,
        "job_id": config.job_id,
    }
    save_policy(config.output_path, model, normalisation, policy_config)
    digest, size = _file_digest(config.output_path)
    logger.info(
        "Job %s: wrote %s (%d bytes, sha256 %s) in %.1f s",
        config.job_id,
        config.output_path,
        size,
        digest,
        time.monotonic() - started,
    )
    return {
        "event": "done",
        "artifact": str(config.output_path),
        "sha256": digest,
        "size_bytes": size,
        "final_loss": loss,
        "final_val_loss": val_loss,
    }


def load_samples(config: TrainerConfig) -> Samples:
    """Read every episode of the job's datasets into one pair of arrays.

    Episodes are read one at a time and only their low-dimensional arrays are
    kept. All episodes must share one observation layout.
    """
    observations: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    episode_ids: list[np.ndarray] = []
    first: Episode | None = None

    for dataset in config.dataset_files:
        logger.info(
            "Job %s: reading %s dataset %s",
            config.job_id,
            dataset.file_type,
            dataset.path.name,
        )
        for episode in iter_episodes(dataset.path, dataset.file_type):
            if episode.length == 0:
                logger.warning("Skipping empty episode %s", episode.source)
                continue
            if first is None:
                first = episode
            else:
                _check_same_layout(first, episode)
            episode_ids.append(np.full(episode.length, len(observations)))
            observations.append(episode.observations)
            actions.append(episode.actions)

    if first is None:
        raise TrainerError(
            "The datasets contain no episode with at least one step; upload "
            "recorded episodes before training."
        )
    return Samples(
        observations=np.concatenate(observations),
        actions=np.concatenate(actions),
        episode_ids=np.concatenate(episode_ids),
        episode_count=len(observations),
        observation_keys=first.observation_keys,
    )


def split_rows(
    samples: Samples, validation_split: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return training and validation row indices.

    With two or more episodes whole episodes are held out, because
    neighbouring steps of one episode are nearly identical and would leak
    into validation. With one episode, random steps are held out instead.
    """
    total = samples.actions.shape[0]
    all_rows = np.arange(total)
    if validation_split == 0:
        return all_rows, all_rows[:0]

    episodes = samples.episode_count
    held_out_episodes = round(validation_split * episodes)
    if episodes >= 2 and 1 <= held_out_episodes < episodes:
        val_episodes = rng.permutation(episodes)[:held_out_episodes]
        is_val = np.isin(samples.episode_ids, val_episodes)
        return all_rows[~is_val], all_rows[is_val]

    held_out = max(1, round(validation_split * total))
    if held_out >= total:
        raise TrainerError(
            f"validation_split {validation_split} leaves no training samples out "
            f"of {total}; lower it or set it to 0."
        )
    shuffled = rng.permutation(total)
    return np.sort(shuffled[held_out:]), np.sort(shuffled[:held_out])


def compute_normalisation(observations: np.ndarray, actions: np.ndarray):
    """Return per-dimension mean and standard deviation of the training rows."""
    obs_std = observations.std(axis=0)
    action_std = actions.std(axis=0)
    return Normalisation(
        obs_mean=observations.mean(axis=0),
        obs_std=np.where(obs_std < MIN_STD, 1.0, obs_std),
        action_mean=actions.mean(axis=0),
        action_std=np.where(action_std < MIN_STD, 1.0, action_std),
    )


def _check_same_layout(first: Episode, episode: Episode) -> None:
    if (
        episode.observation_keys != first.observation_keys
        or episode.observations.shape[1] != first.observations.shape[1]
        or episode.actions.shape[1] != first.actions.shape[1]
    ):
        raise TrainerError(
            f"Episode {episode.source} has observations {episode.observation_keys} "
            f"({episode.observations.shape[1]} values) and "
            f"{episode.actions.shape[1]} action values, but {first.source} has "
            f"{first.observation_keys} ({first.observations.shape[1]} values) and "
            f"{first.actions.shape[1]}; train one observation and action layout "
            "per job."
        )


def _normalise(samples: Samples, rows: np.ndarray, norm: Normalisation):
    inputs = (samples.observations[rows] - norm.obs_mean) / norm.obs_std
    targets = (samples.actions[rows] - norm.action_mean) / norm.action_std
    return inputs.astype(np.float32), targets.astype(np.float32)


def _train_epoch(
    model: MLP,
    optimizer: AdamW,
    inputs: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
) -> float:
    """Run one epoch and return its sample-weighted mean training loss."""
    order = rng.permutation(inputs.shape[0])
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        loss, weight_grads, bias_grads = model.loss_and_gradients(
            inputs[batch], targets[batch]
        )
        optimizer.step(weight_grads, bias_grads)
        total += loss * len(batch)
    return total / len(order)


def _evaluate(model: MLP, inputs: np.ndarray, targets: np.ndarray) -> float | None:
    """Return the validation MSE, or None without validation rows."""
    if inputs.shape[0] == 0:
        return None

    # Chunks bound the memory of the hidden activations on large sets.
    squared_error = 0.0
    for start in range(0, inputs.shape[0], EVALUATION_CHUNK):
        outputs = model.forward(inputs[start : start + EVALUATION_CHUNK])
        error = outputs - targets[start : start + EVALUATION_CHUNK]
        squared_error += float(np.sum(error.astype(np.float64) ** 2))
    return squared_error / targets.size


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
