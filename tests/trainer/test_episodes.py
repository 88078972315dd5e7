"""Episode readers for robomimic, robosuite, ALOHA and LeRobot data."""

import json

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.trainer.datasets import write_aloha, write_robomimic
from training.trainer import TrainerError
from training.trainer.episodes import iter_episodes


def test_robosuite_recording_matches_h5py(recorded_data):
    demo = recorded_data / "hdf5/robosuite_raw_wipe_panda/demo.hdf5"
    with h5py.File(demo, "r") as handle:
        states = handle["data/demo_1/states"][()]
        actions = handle["data/demo_1/actions"][()]

    episodes = list(iter_episodes(demo, "hdf5"))

    assert len(episodes) == 1
    assert episodes[0].source == "demo.hdf5:data/demo_1"
    assert episodes[0].observation_keys == ("states",)
    assert episodes[0].observations.shape == (174, 15)
    np.testing.assert_array_equal(episodes[0].observations, states)
    np.testing.assert_array_equal(episodes[0].actions, actions)


def test_lerobot_recording_reads_present_episode(recorded_data):
    folder = recorded_data / "lerobot_v2.1/unitree_g1_pick_bottle"
    file = folder / "data/chunk-000/episode_000029.parquet"
    table = pq.read_table(file, columns=["observation.state", "action"])

    episodes = list(iter_episodes(folder, "lerobot"))

    assert len(episodes) == 1
    assert episodes[0].observations.shape == (221, 26)
    np.testing.assert_allclose(
        episodes[0].observations, np.asarray(table.column(0).to_pylist())
    )
    np.testing.assert_allclose(
        episodes[0].actions, np.asarray(table.column(1).to_pylist())
    )


def test_robomimic_concatenates_sorted_low_dim_keys(tmp_path):
    path = write_robomimic(tmp_path / "demo.hdf5", demos=2, steps=7)
    with h5py.File(path, "r") as handle:
        obs = handle["data/demo_1/obs"]
        expected = np.concatenate(
            [obs["gripper"][()][:, None], obs["object"][()], obs["robot0_eef_pos"][()]],
            axis=1,
        )

    episodes = list(iter_episodes(path, "hdf5"))

    assert [episode.source for episode in episodes] == [
        "demo.hdf5:data/demo_0",
        "demo.hdf5:data/demo_1",
    ]
    assert episodes[1].observation_keys == ("gripper", "object", "robot0_eef_pos")
    np.testing.assert_array_equal(episodes[1].observations, expected)
    assert episodes[1].actions.shape == (7, 4)


def test_demos_in_natural_order(tmp_path):
    path = tmp_path / "demos.hdf5"
    with h5py.File(path, "w") as handle:
        for index in (10, 2, 1):
            handle[f"data/demo_{index}/states"] = np.full((3, 2), index, float)
            handle[f"data/demo_{index}/actions"] = np.zeros((3, 1))

    sources = [episode.source for episode in iter_episodes(path, "hdf5")]

    assert sources == [
        "demos.hdf5:data/demo_1",
        "demos.hdf5:data/demo_2",
        "demos.hdf5:data/demo_10",
    ]


def test_aloha_uses_qpos_and_action(tmp_path):
    path = write_aloha(tmp_path / "episode_3.hdf5", steps=30)
    with h5py.File(path, "r") as handle:
        qpos = handle["observations/qpos"][()]
        action = handle["action"][()]

    episodes = list(iter_episodes(path, "hdf5"))

    assert len(episodes) == 1
    assert episodes[0].observation_keys == ("observations/qpos",)
    np.testing.assert_array_equal(episodes[0].observations, qpos)
    np.testing.assert_array_equal(episodes[0].actions, action)


def test_lerobot_multi_episode_file_is_split(tmp_path):
    folder = tmp_path / "lerobot_v3"
    (folder / "meta").mkdir(parents=True)
    (folder / "data" / "chunk-000").mkdir(parents=True)
    info = {
        "codebase_version": "v3.0",
        "total_episodes": 2,
        "features": {
            "observation.state": {"dtype": "float32", "shape": [3]},
            "action": {"dtype": "float32", "shape": [2]},
        },
    }
    (folder / "meta" / "info.json").write_text(json.dumps(info))
    state = np.arange(15, dtype=np.float32).reshape(5, 3)
    action = np.arange(10, dtype=np.float32).reshape(5, 2)
    table = pa.table(
        {
            "observation.state": pa.array(list(state), type=pa.list_(pa.float32(), 3)),
            "action": pa.array(list(action), type=pa.list_(pa.float32())),
            "episode_index": pa.array([0, 0, 0, 1, 1], type=pa.int64()),
        }
    )
    pq.write_table(table, folder / "data" / "chunk-000" / "file-000.parquet")

    episodes = list(iter_episodes(folder, "lerobot"))

    assert [episode.length for episode in episodes] == [3, 2]
    np.testing.assert_array_equal(episodes[1].observations, state[3:])
    np.testing.assert_array_equal(episodes[1].actions, action[3:])


def test_lerobot_without_action_feature(tmp_path):
    folder = tmp_path / "no_action"
    (folder / "meta").mkdir(parents=True)
    features = {"observation.state": {"dtype": "float32", "shape": [3]}}
    (folder / "meta" / "info.json").write_text(json.dumps({"features": features}))

    with pytest.raises(TrainerError, match="no 'action' feature"):
        list(iter_episodes(folder, "lerobot"))


def test_lerobot_without_info_json(tmp_path):
    with pytest.raises(TrainerError, match="no meta/info.json"):
        list(iter_episodes(tmp_path, "lerobot"))


def test_unknown_hdf5_layout_is_rejected(tmp_path):
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as handle:
        handle["joints"] = np.zeros((4, 3))

    with pytest.raises(TrainerError, match="no HDF5 layout"):
        list(iter_episodes(path, "hdf5"))


def test_mismatched_lengths_are_rejected(tmp_path):
    path = tmp_path / "short.hdf5"
    with h5py.File(path, "w") as handle:
        handle["data/demo_0/states"] = np.zeros((5, 3))
        handle["data/demo_0/actions"] = np.zeros((4, 2))

    with pytest.raises(TrainerError, match="5 observation steps but 4 actions"):
        list(iter_episodes(path, "hdf5"))


def test_non_finite_values_are_rejected(tmp_path):
    path = tmp_path / "nan.hdf5"
    states = np.zeros((4, 3))
    states[2, 1] = np.nan
    with h5py.File(path, "w") as handle:
        handle["data/demo_0/states"] = states
        handle["data/demo_0/actions"] = np.zeros((4, 2))

    with pytest.raises(TrainerError, match="NaN or infinite"):
        list(iter_episodes(path, "hdf5"))


def test_images_only_obs_is_rejected(tmp_path):
    path = tmp_path / "images.hdf5"
    with h5py.File(path, "w") as handle:
        handle["data/demo_0/obs/agentview_image"] = np.zeros((4, 8, 8, 3), np.uint8)
        handle["data/demo_0/actions"] = np.zeros((4, 2))

    with pytest.raises(TrainerError, match="no low-dimensional observation"):
        list(iter_episodes(path, "hdf5"))


def test_non_hdf5_file_is_rejected(tmp_path):
    path = tmp_path / "notes.hdf5"
    path.write_text("not an HDF5 file")

    with pytest.raises(TrainerError, match="could not be opened as HDF5"):
        list(iter_episodes(path, "hdf5"))
