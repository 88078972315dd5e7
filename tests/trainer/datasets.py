"""Builders of small synthetic robot datasets for the trainer tests.

Actions are a fixed smooth function of the observations, so a policy can
learn them and the training loss must fall.
"""

from pathlib import Path

import h5py
import numpy as np


def smooth_actions(observations: np.ndarray, action_dim: int, seed: int = 1):
    """Return tanh(observations @ M) for a fixed random matrix M."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((observations.shape[1], action_dim)) / np.sqrt(
        observations.shape[1]
    )
    return np.tanh(observations @ mixing)


def write_robomimic(
    path: Path,
    *,
    demos: int = 4,
    steps: int = 50,
    image_size: int = 8,
    seed: int = 0,
) -> Path:
    """Write a robomimic-layout HDF5 file with low-dim and image observations.

    Each demo has ``obs/robot0_eef_pos`` (3), ``obs/object`` (5),
    ``obs/gripper`` as a 1-D per-step array (1) and an ``agentview_image``
    of ``image_size`` pixels square, plus 4-dim ``actions``.
    """
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        data = handle.create_group("data")
        for index in range(demos):
            demo = data.create_group(f"demo_{index}")
            eef = rng.standard_normal((steps, 3))
            obj = rng.standard_normal((steps, 5))
            gripper = rng.standard_normal(steps)
            obs = demo.create_group("obs")
            obs["robot0_eef_pos"] = eef
            obs["object"] = obj
            obs["gripper"] = gripper
            obs["agentview_image"] = rng.integers(
                0, 255, (steps, image_size, image_size, 3), dtype=np.uint8
            )
            # Sorted key order: agentview_image (skipped), gripper, object,
            # robot0_eef_pos.
            low_dim = np.concatenate([gripper[:, None], obj, eef], axis=1)
            demo["actions"] = smooth_actions(low_dim, 4)
    return path


def write_aloha(path: Path, *, steps: int = 120, seed: int = 0) -> Path:
    """Write an ALOHA-layout HDF5 episode: 14-dim qpos and action, one camera."""
    rng = np.random.default_rng(seed)
    qpos = np.cumsum(rng.standard_normal((steps, 14)) * 0.1, axis=0)
    with h5py.File(path, "w") as handle:
        observations = handle.create_group("observations")
        observations["qpos"] = qpos
        observations["qvel"] = np.gradient(qpos, axis=0)
        images = observations.create_group("images")
        images["top"] = rng.integers(0, 255, (steps, 4, 4, 3), dtype=np.uint8)
        handle["action"] = smooth_actions(qpos, 14)
    return path
