"""Synthetic robot recordings in the HDF5 layouts the platform inspects.

The demo must run without network access, so it writes small but realistic
files itself: smooth joint trajectories with the action leading the state,
as teleoperated demonstrations look.
"""

from pathlib import Path

import h5py
import numpy as np


def _trajectory(rng: np.random.Generator, steps: int, width: int) -> np.ndarray:
    """Return a smooth random walk of shape (steps, width)."""
    velocity = rng.normal(0.0, 0.02, size=(steps, width))
    kernel = np.ones(9) / 9
    for column in range(width):
        velocity[:, column] = np.convolve(velocity[:, column], kernel, mode="same")
    return np.cumsum(velocity, axis=0)


def write_robomimic(path: Path, *, episodes: int, seed: int) -> Path:
    """Write a robomimic-layout file: data/demo_N/{actions, obs/*}."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        data = handle.create_group("data")
        data.attrs["env_args"] = (
            '{"env_name": "PickPlaceCan", "type": 1, "env_kwargs": {"robots": ["Panda"]}}'
        )
        total = 0
        for index in range(episodes):
            steps = int(rng.integers(80, 160))
            joints = _trajectory(rng, steps + 1, 7)
            demo = data.create_group(f"demo_{index}")
            demo.attrs["num_samples"] = steps
            demo.create_dataset("actions", data=np.diff(joints, axis=0)[:, :7] * 10)
            obs = demo.create_group("obs")
            obs.create_dataset("robot0_joint_pos", data=joints[:-1])
            obs.create_dataset("robot0_eef_pos", data=joints[:-1, :3] * 0.5)
            obs.create_dataset("robot0_gripper_qpos", data=np.tanh(joints[:-1, 5:7]))
            total += steps
        data.attrs["total"] = total
    return path


def write_aloha(path: Path, *, steps: int, seed: int) -> Path:
    """Write an ALOHA/ACT-layout episode: observations/qpos and action."""
    rng = np.random.default_rng(seed)
    qpos = _trajectory(rng, steps + 1, 14)
    with h5py.File(path, "w") as handle:
        handle.attrs["sim"] = True
        observations = handle.create_group("observations")
        observations.create_dataset("qpos", data=qpos[:-1])
        observations.create_dataset("qvel", data=np.diff(qpos, axis=0))
        handle.create_dataset("action", data=qpos[1:])
    return path
