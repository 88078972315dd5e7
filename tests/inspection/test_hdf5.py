"""Tests of HDF5 inspection on the recorded robosuite demo and synthetic files."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from datasets.inspection import inspect_file

from .builders import CountingReader, write_aloha, write_robomimic

ROBOSUITE_DEMO = "hdf5/robosuite_raw_wipe_panda/demo.hdf5"


@pytest.fixture
def robosuite_demo(recorded_data: Path) -> Path:
    return recorded_data / ROBOSUITE_DEMO


def test_robosuite_raw_matches_reference_values(robosuite_demo: Path) -> None:
    metadata = inspect_file(robosuite_demo, filename="demo.hdf5")

    # Reference values published with the recorded files: one demo of 174
    # steps, actions (174, 6), states (174, 15), joint_torques (174, 7).
    assert metadata["format"] == "hdf5"
    assert metadata["layout"] == "robosuite_raw"
    assert metadata["episodes"] == 1
    assert metadata["frames"] == 174
    assert metadata["episode_frames"] == [174]
    assert metadata["action_dim"] == 6
    assert metadata["observation_dim"] == 15
    assert metadata["keys"] == [
        {"name": "actions", "shape": [6], "dtype": "float64"},
        {"name": "joint_torques", "shape": [7], "dtype": "float64"},
        {"name": "states", "shape": [15], "dtype": "float64"},
    ]


def test_robosuite_raw_robot_and_env_hints(robosuite_demo: Path) -> None:
    metadata = inspect_file(robosuite_demo, filename="demo.hdf5")

    assert metadata["robot"] == "Panda"
    assert metadata["extra"]["env"] == "Wipe"
    assert metadata["extra"]["controller"] == "OSC_POSE"
    assert metadata["extra"]["repository_version"] == "1.0.0"
    assert metadata["extra"]["size_bytes"] == robosuite_demo.stat().st_size


def test_robosuite_raw_agrees_with_h5py(robosuite_demo: Path) -> None:
    metadata = inspect_file(robosuite_demo, filename="demo.hdf5")

    with h5py.File(robosuite_demo, "r") as file:
        demo = file["data/demo_1"]
        expected = [
            {
                "name": name,
                "shape": list(demo[name].shape[1:]),
                "dtype": str(demo[name].dtype),
            }
            for name in sorted(demo.keys())
        ]
        frames = demo["actions"].shape[0]
    assert metadata["keys"] == expected
    assert metadata["frames"] == frames


def test_robosuite_raw_from_file_object(robosuite_demo: Path) -> None:
    with open(robosuite_demo, "rb") as stream:
        from_stream = inspect_file(stream, filename="demo.hdf5")

    from_path = inspect_file(robosuite_demo, filename="demo.hdf5")
    assert from_stream == from_path


def test_robomimic_layout(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "lift.hdf5", [50, 60, 70])

    metadata = inspect_file(path, filename="lift.hdf5")

    assert metadata["layout"] == "robomimic"
    assert metadata["episodes"] == 3
    assert metadata["frames"] == 180
    assert metadata["episode_frames"] == [50, 60, 70]
    assert metadata["action_dim"] == 7


def test_robomimic_observation_dim_ignores_images(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "lift.hdf5", [10])

    metadata = inspect_file(path, filename="lift.hdf5")

    # eef_pos 3 + eef_quat 4 + gripper_qpos 2; agentview_image is left out.
    assert metadata["observation_dim"] == 9
    image_key = {"name": "obs/agentview_image", "shape": [84, 84, 3], "dtype": "uint8"}
    assert image_key in metadata["keys"]


def test_robomimic_env_args_hints(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "lift.hdf5", [40, 60])

    metadata = inspect_file(path, filename="lift.hdf5")

    assert metadata["robot"] == "Panda"
    assert metadata["fps"] == 20.0
    assert metadata["duration_s"] == 5.0
    assert metadata["extra"]["env"] == "Lift"
    assert metadata["extra"]["controller"] == "OSC_POSE"
    assert metadata["extra"]["filter_keys"] == ["train", "valid"]
    assert metadata["declared"] == {}


def test_robomimic_demos_sorted_by_number(tmp_path: Path) -> None:
    path = tmp_path / "sorted.hdf5"
    with h5py.File(path, "w") as file:
        for number, length in ((10, 5), (2, 3), (1, 2)):
            demo = file.create_group(f"data/demo_{number}")
            demo.create_dataset("actions", data=np.zeros((length, 2)))
            demo.create_dataset("obs/state", data=np.zeros((length, 4)))

    metadata = inspect_file(path, filename="sorted.hdf5")

    assert metadata["episode_frames"] == [2, 3, 5]


def test_robomimic_declared_total_differs(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "lift.hdf5", [10, 10])
    with h5py.File(path, "a") as file:
        file["data"].attrs["total"] = 25

    metadata = inspect_file(path, filename="lift.hdf5")

    assert metadata["frames"] == 20
    assert metadata["declared"] == {"frames": 25}


def test_aloha_layout(tmp_path: Path) -> None:
    path = write_aloha(tmp_path / "episode_0.hdf5", 400)

    metadata = inspect_file(path, filename="episode_0.hdf5")

    assert metadata["layout"] == "aloha"
    assert metadata["episodes"] == 1
    assert metadata["frames"] == 400
    assert metadata["action_dim"] == 14
    # qpos, qvel and effort, 14 each; camera images are left out.
    assert metadata["observation_dim"] == 42
    assert metadata["extra"]["cameras"] == ["left_wrist", "top"]
    assert metadata["extra"]["sim"] is True
    top = {"name": "observations/images/top", "shape": [48, 64, 3], "dtype": "uint8"}
    assert top in metadata["keys"]


def test_generic_lists_every_dataset(tmp_path: Path) -> None:
    path = tmp_path / "calibration.h5"
    with h5py.File(path, "w") as file:
        file.attrs["robot"] = "ur5e"
        file.create_dataset("camera/intrinsics", data=np.zeros((3, 3)))
        file.create_dataset("joint_offsets", data=np.zeros(6, dtype=np.float32))
        file.create_dataset("label", data="left arm", dtype=h5py.string_dtype())

    metadata = inspect_file(path, filename="calibration.h5")

    assert metadata["layout"] == "generic"
    assert metadata["episodes"] is None
    assert metadata["frames"] is None
    assert metadata["robot"] == "ur5e"
    assert metadata["keys"] == [
        {"name": "camera/intrinsics", "shape": [3, 3], "dtype": "float64"},
        {"name": "joint_offsets", "shape": [6], "dtype": "float32"},
        {"name": "label", "shape": [], "dtype": "string"},
    ]
    assert metadata["extra"]["datasets"] == 3
    assert metadata["extra"]["groups"] == 1


def test_generic_counts_named_episodes(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.h5"
    with h5py.File(path, "w") as file:
        for index, length in enumerate((30, 20)):
            episode = file.create_group(f"episode_{index}")
            episode.create_dataset("action", data=np.zeros((length, 8)))
            episode.create_dataset("proprio", data=np.zeros((length, 9)))

    metadata = inspect_file(path, filename="rollouts.h5")

    assert metadata["layout"] == "generic"
    assert metadata["episodes"] == 2
    assert metadata["episode_frames"] == [30, 20]
    assert metadata["action_dim"] == 8


def test_external_link_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as file:
        file.create_dataset("secret", data=np.zeros((5, 5)))
    path = write_robomimic(tmp_path / "lift.hdf5", [10], with_images=False)
    with h5py.File(path, "a") as file:
        file["data/demo_0/obs/linked"] = h5py.ExternalLink(str(outside), "/secret")
        file["linked_root"] = h5py.ExternalLink(str(outside), "/secret")

    metadata = inspect_file(path, filename="lift.hdf5")

    names = [key["name"] for key in metadata["keys"]]
    assert "obs/linked" not in names
    assert metadata["observation_dim"] == 9


def test_large_file_reads_only_metadata(tmp_path: Path) -> None:
    """A 200 MiB chunked dataset is inspected by reading its structure only."""
    path = tmp_path / "large.hdf5"
    rows = 200 * 1024 * 1024 // (8 * 8)
    with h5py.File(path, "w") as file:
        actions = file.create_dataset(
            "data/demo_0/actions", shape=(rows, 8), dtype="f8", chunks=(8192, 8)
        )
        block = np.zeros((8192 * 64, 8))
        for start in range(0, rows, len(block)):
            stop = min(start + len(block), rows)
            actions[start:stop] = block[: stop - start]
        file.create_dataset("data/demo_0/states", shape=(rows, 4), dtype="f4")
    size = path.stat().st_size
    assert size > 200 * 1024 * 1024

    with open(path, "rb") as raw:
        counting = CountingReader(raw)
        metadata = inspect_file(counting, filename="large.hdf5")

    assert metadata["frames"] == rows
    assert counting.bytes_read < size // 100


def test_hdf5_metadata_is_json_serializable(tmp_path: Path) -> None:
    path = write_robomimic(tmp_path / "lift.hdf5", [5])
    with h5py.File(path, "a") as file:
        file.attrs["numbers"] = np.arange(3)
        file.attrs["flag"] = np.bool_(True)
        file.attrs["raw"] = np.bytes_(b"bytes")

    metadata = inspect_file(path, filename="lift.hdf5")

    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["extra"]["attributes"]["/"] == {
        "numbers": [0, 1, 2],
        "flag": True,
        "raw": "bytes",
    }
