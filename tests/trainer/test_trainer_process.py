"""The built-in trainer run as the worker runs it: a subprocess with JSON events."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.trainer.datasets import write_aloha, write_robomimic
from training.trainer.policy import load_policy

REPO_ROOT = Path(__file__).resolve().parents[2]
WIPE_DEMO = Path("hdf5/robosuite_raw_wipe_panda/demo.hdf5")
UNITREE_G1 = Path("lerobot_v2.1/unitree_g1_pick_bottle")


def write_config(tmp_path: Path, dataset_files, *, model_type="bc_mlp", **hyper):
    config = {
        "job_id": "a1b2c3d4e5f6",
        "model_type": model_type,
        "dataset_files": dataset_files,
        "hyperparameters": hyper,
        "output_path": str(tmp_path / "artifacts" / "policy.npz"),
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_trainer(config_path: Path) -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "training.trainer", "--config", str(config_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, events, result.stderr


def events_named(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event["event"] == name]


def test_robosuite_recording_trains_and_loads(recorded_data, tmp_path):
    demo = recorded_data / WIPE_DEMO
    with h5py.File(demo, "r") as handle:
        states = handle["data/demo_1/states"][()]
        actions = handle["data/demo_1/actions"][()]
    config = write_config(
        tmp_path, [{"path": str(demo), "file_type": "hdf5"}], epochs=15
    )

    code, events, stderr = run_trainer(config)

    assert code == 0, stderr
    start = events[0]
    assert start["event"] == "start"
    assert start["episodes"] == 1
    assert start["samples"] == states.shape[0]
    assert start["observation_dim"] == states.shape[1]
    assert start["action_dim"] == actions.shape[1]
    assert start["epochs"] == 15

    epochs = events_named(events, "epoch")
    assert [event["epoch"] for event in epochs] == list(range(1, 16))
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    assert epochs[-1]["progress"] == 1.0
    assert all(event["val_loss"] is not None for event in epochs)

    done = events[-1]
    assert done["event"] == "done"
    artifact = Path(done["artifact"])
    assert artifact == tmp_path / "artifacts" / "policy.npz"
    assert done["size_bytes"] == artifact.stat().st_size
    assert done["final_loss"] == epochs[-1]["loss"]

    assert done["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()

    policy = load_policy(artifact)
    predicted = policy.predict(states)
    assert predicted.shape == actions.shape
    assert np.isfinite(predicted).all()
    assert policy.config["dataset_files"] == ["demo.hdf5"]
    assert policy.config["observation_keys"] == ["states"]
    assert policy.config["layer_sizes"] == [15, 256, 256, 6]


def test_lerobot_folder_trains(recorded_data, tmp_path):
    folder = recorded_data / UNITREE_G1
    info = json.loads((folder / "meta" / "info.json").read_text())
    parquet_files = sorted((folder / "data").glob("chunk-*/*.parquet"))
    frames = sum(pq.read_metadata(file).num_rows for file in parquet_files)
    state_dim = info["features"]["observation.state"]["shape"][0]
    action_dim = info["features"]["action"]["shape"][0]
    config = write_config(
        tmp_path,
        [{"path": str(folder), "file_type": "lerobot"}],
        epochs=4,
        hidden_sizes=[64, 64],
    )

    code, events, stderr = run_trainer(config)

    assert code == 0, stderr
    assert events[0]["episodes"] == len(parquet_files)
    assert events[0]["samples"] == frames
    assert events[0]["observation_dim"] == state_dim == 26
    assert events[0]["action_dim"] == action_dim == 26
    policy = load_policy(events[-1]["artifact"])
    state = pq.read_table(parquet_files[0], columns=["observation.state"])
    observations = np.asarray(state.column(0).to_pylist())
    predicted = policy.predict(observations)
    assert predicted.shape == (frames, 26)
    assert np.isfinite(predicted).all()


def test_robomimic_file_skips_images(tmp_path):
    dataset = write_robomimic(tmp_path / "robomimic.hdf5", demos=5, steps=40)
    config = write_config(
        tmp_path,
        [{"path": str(dataset), "file_type": "hdf5"}],
        epochs=30,
        hidden_sizes=[32],
        validation_split=0.2,
    )

    code, events, stderr = run_trainer(config)

    assert code == 0, stderr
    assert events[0]["episodes"] == 5
    assert events[0]["samples"] == 200
    # gripper (1) + object (5) + robot0_eef_pos (3); the image is left out.
    assert events[0]["observation_dim"] == 9
    assert events[0]["action_dim"] == 4
    epochs = events_named(events, "epoch")
    assert epochs[-1]["loss"] < epochs[0]["loss"] / 2
    policy = load_policy(events[-1]["artifact"])
    assert policy.config["observation_keys"] == ["gripper", "object", "robot0_eef_pos"]


def test_aloha_files_without_validation(tmp_path):
    first = write_aloha(tmp_path / "episode_0.hdf5", steps=80, seed=1)
    second = write_aloha(tmp_path / "episode_1.hdf5", steps=60, seed=2)
    config = write_config(
        tmp_path,
        [
            {"path": str(first), "file_type": "hdf5"},
            {"path": str(second), "file_type": "hdf5"},
        ],
        epochs=10,
        validation_split=0,
        batch_size=16,
    )

    code, events, stderr = run_trainer(config)

    assert code == 0, stderr
    assert events[0]["episodes"] == 2
    assert events[0]["samples"] == 140
    assert events[0]["observation_dim"] == 14
    epochs = events_named(events, "epoch")
    assert all(event["val_loss"] is None for event in epochs)
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    policy = load_policy(events[-1]["artifact"])
    assert policy.config["dataset_files"] == ["episode_0.hdf5", "episode_1.hdf5"]
    assert policy.predict(np.zeros(14)).shape == (14,)


@pytest.mark.parametrize(
    ("model_type", "framework_command"),
    [
        ("diffusion_policy", "lerobot-train"),
        ("smolvla", "lerobot-train"),
        ("pi0_fast", "scripts/train.py"),
        ("gr00t_n1_5", "gr00t_finetune.py"),
    ],
)
def test_other_model_type_fails_clearly(tmp_path, model_type, framework_command):
    dataset = write_aloha(tmp_path / "episode.hdf5", steps=20)
    config = write_config(
        tmp_path, [{"path": str(dataset), "file_type": "hdf5"}], model_type=model_type
    )

    code, events, _ = run_trainer(config)

    assert code == 1
    assert len(events) == 1
    assert events[0]["event"] == "error"
    message = events[0]["message"]
    assert "covers only bc_mlp" in message
    assert framework_command in message
    assert "not installed on this worker" in message
    assert not (tmp_path / "artifacts" / "policy.npz").exists()


def test_unknown_model_type_lists_known(tmp_path):
    dataset = write_aloha(tmp_path / "episode.hdf5", steps=20)
    config = write_config(
        tmp_path, [{"path": str(dataset), "file_type": "hdf5"}], model_type="resnet"
    )

    code, events, _ = run_trainer(config)

    assert code == 1
    assert events[-1]["event"] == "error"
    assert "'resnet'" in events[-1]["message"]
    assert "bc_mlp" in events[-1]["message"]


def test_invalid_hyperparameter_is_error_event(tmp_path):
    dataset = write_aloha(tmp_path / "episode.hdf5", steps=20)
    config = write_config(
        tmp_path, [{"path": str(dataset), "file_type": "hdf5"}], epochs=0
    )

    code, events, _ = run_trainer(config)

    assert code == 1
    assert [event["event"] for event in events] == ["error"]
    assert "epochs" in events[0]["message"]
    assert "0" in events[0]["message"]


def test_missing_dataset_is_error_event(tmp_path):
    missing = tmp_path / "absent.hdf5"
    config = write_config(tmp_path, [{"path": str(missing), "file_type": "hdf5"}])

    code, events, _ = run_trainer(config)

    assert code == 1
    assert events[-1]["event"] == "error"
    assert str(missing) in events[-1]["message"]


def test_unreadable_config_is_error_event(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{not json")

    code, events, _ = run_trainer(config)

    assert code == 1
    assert events[-1]["event"] == "error"
    assert "not valid JSON" in events[-1]["message"]


def test_sigterm_stops_training_silently(tmp_path):
    dataset = write_robomimic(tmp_path / "large.hdf5", demos=40, steps=500)
    config = write_config(
        tmp_path,
        [{"path": str(dataset), "file_type": "hdf5"}],
        epochs=10_000,
        batch_size=32,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "training.trainer", "--config", str(config)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until training is under way, then cancel as the worker does.
        seen = []
        while not any(event["event"] == "epoch" for event in seen):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            seen.append(json.loads(line))
        sent_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        elapsed = time.monotonic() - sent_at
        rest = [json.loads(line) for line in process.stdout.read().splitlines()]
        log = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()

    # 143 = 128 + SIGTERM: the trainer caught the signal and cleaned up.
    assert code == 143
    assert elapsed < 5
    assert "cancelled by SIGTERM" in log
    names = {event["event"] for event in rest}
    assert "done" not in names
    assert "error" not in names
    artifacts = tmp_path / "artifacts"
    assert not (artifacts / "policy.npz").exists()
    assert not artifacts.exists() or os.listdir(artifacts) == []
