"""``centeros datasets upload`` and ``centeros jobs watch`` against a live server.

The upload sends a real recorded robot file; the expected episode and frame
counts are read from it with h5py, and its SHA-256 with hashlib. Training
jobs are run by the task worker that the live server fixture starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import pytest

from centeros.client import CenterOSClient, CredentialStore, PendingUploads

pytestmark = pytest.mark.live

DEMO = "hdf5/robosuite_raw_wipe_panda/demo.hdf5"


@pytest.fixture(scope="session")
def demo_file(recorded_data) -> Path:
    return recorded_data / DEMO


@pytest.fixture(scope="session")
def demo_reference(demo_file) -> dict:
    """Episodes and frames of the demo file, counted with h5py."""
    with h5py.File(demo_file, "r") as handle:
        episodes = [key for key in handle["data"] if key.startswith("demo_")]
        frames = sum(handle["data"][key]["actions"].shape[0] for key in episodes)
    return {
        "episodes": len(episodes),
        "frames": frames,
        "sha256": hashlib.sha256(demo_file.read_bytes()).hexdigest(),
        "size": demo_file.stat().st_size,
    }


@pytest.fixture
def api(centeros_server, tmp_path) -> CenterOSClient:
    client = CenterOSClient(
        centeros_server.url,
        token=centeros_server.full_token,
        credentials=CredentialStore(tmp_path / "library-config"),
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def ready_dataset_id(centeros_server, demo_file, tmp_path_factory) -> int:
    """A dataset uploaded once through the client library, for training."""
    with CenterOSClient(
        centeros_server.url,
        token=centeros_server.full_token,
        credentials=CredentialStore(tmp_path_factory.mktemp("uploader")),
    ) as client:
        result = client.upload_file(demo_file, "training-input")
    assert result.dataset["status"] == "ready"
    return result.dataset_id


def _pending_store(client_env) -> PendingUploads:
    return PendingUploads(Path(client_env["XDG_CONFIG_HOME"]) / "centeros")


# -- datasets upload -------------------------------------------------------------


def test_upload_inspects_real_file(cli, centeros_server, demo_file, demo_reference):
    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        "--name",
        "wipe-demo",
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    dataset = json.loads(result.stdout)["data"]
    assert dataset["status"] == "ready"
    assert dataset["name"] == "wipe-demo"
    assert dataset["file_type"] == "hdf5"
    assert dataset["sha256"] == demo_reference["sha256"]
    assert dataset["size_bytes"] == demo_reference["size"]
    assert dataset["episode_count"] == demo_reference["episodes"]
    assert dataset["frame_count"] == demo_reference["frames"]


def test_upload_shows_progress(cli, centeros_server, demo_file, demo_reference):
    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    assert "demo.hdf5" in result.stderr
    assert "100%" in result.stderr
    assert demo_reference["sha256"] in result.stderr
    assert "frame_count" in result.stdout
    assert str(demo_reference["frames"]) in result.stdout


def test_upload_leaves_no_pending_entry(cli, centeros_server, demo_file, client_env):
    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    store = _pending_store(client_env)
    assert not store.path.exists() or json.loads(store.path.read_text()) == {}


def test_interrupted_upload_resumes_same_dataset(
    cli, api, centeros_server, demo_file, client_env, demo_reference
):
    store = _pending_store(client_env)
    info = demo_file.stat()
    key = PendingUploads.key(api.base_url, demo_file, info.st_size, info.st_mtime_ns)

    def interrupt(sent: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.upload_file(demo_file, "resumable", progress=interrupt, pending=store)
    remembered = store.get(key)
    assert remembered is not None
    pending = api.call("get_dataset", {"dataset_id": remembered["dataset_id"]})
    assert pending["status"] == "pending_upload"

    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    assert "(resumed)" in result.stderr
    dataset = json.loads(result.stdout)["data"]
    assert dataset["id"] == remembered["dataset_id"]
    assert dataset["status"] == "ready"
    assert dataset["sha256"] == demo_reference["sha256"]
    assert store.get(key) is None


def test_upload_restart_creates_new_dataset(
    cli, api, centeros_server, demo_file, client_env
):
    store = _pending_store(client_env)

    def interrupt(sent: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.upload_file(demo_file, progress=interrupt, pending=store)
    info = demo_file.stat()
    key = PendingUploads.key(api.base_url, demo_file, info.st_size, info.st_mtime_ns)
    abandoned_id = store.get(key)["dataset_id"]

    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        "--restart",
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    assert "(resumed)" not in result.stderr
    assert json.loads(result.stdout)["data"]["id"] != abandoned_id


def test_upload_into_deleted_dataset_starts_over(
    cli, api, centeros_server, demo_file, client_env
):
    store = _pending_store(client_env)

    def interrupt(sent: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.upload_file(demo_file, progress=interrupt, pending=store)
    info = demo_file.stat()
    key = PendingUploads.key(api.base_url, demo_file, info.st_size, info.st_mtime_ns)
    deleted_id = store.get(key)["dataset_id"]
    api.call("delete_dataset", {"dataset_id": deleted_id})

    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    dataset = json.loads(result.stdout)["data"]
    assert dataset["id"] != deleted_id
    assert dataset["status"] == "ready"


def test_upload_with_read_token_is_403(cli, centeros_server, demo_file):
    result = cli(
        "datasets",
        "upload",
        str(demo_file),
        env={"CENTEROS_TOKEN": centeros_server.read_token},
    )

    assert result.returncode == 1
    assert "datasets:write" in result.stderr


def test_upload_missing_file_is_usage_error(cli, centeros_server, tmp_path):
    result = cli(
        "datasets",
        "upload",
        str(tmp_path / "absent.hdf5"),
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "absent.hdf5" in result.stderr


def test_upload_empty_file_is_usage_error(cli, centeros_server, tmp_path):
    empty = tmp_path / "empty.hdf5"
    empty.write_bytes(b"")

    result = cli(
        "datasets",
        "upload",
        str(empty),
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "empty" in result.stderr


# -- jobs watch ----------------------------------------------------------------------


def _launched_job(api: CenterOSClient, dataset_id: int, epochs: int) -> str:
    job = api.call(
        "create_training_job",
        {"dataset_ids": [dataset_id], "hyperparameters": {"epochs": epochs}},
    )
    api.call("launch_training", {"job_id": job["id"]})
    return job["id"]


def test_watch_follows_job_until_succeeded(cli, api, centeros_server, ready_dataset_id):
    job_id = _launched_job(api, ready_dataset_id, epochs=4)

    result = cli(
        "jobs",
        "watch",
        job_id,
        "--interval",
        "0.3",
        "--timeout",
        "120",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    final = api.call("get_training_status", {"job_id": job_id})
    assert final["status"] == "succeeded"
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.startswith("succeeded")
    assert "epoch 4/4" in last_line
    assert "100%" in last_line
    assert f"loss {final['latest_metrics']['loss']:.4g}" in last_line


def test_watch_json_lines(cli, api, centeros_server, ready_dataset_id):
    job_id = _launched_job(api, ready_dataset_id, epochs=2)

    result = cli(
        "--json",
        "jobs",
        "watch",
        job_id,
        "--interval",
        "0.3",
        "--timeout",
        "120",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    statuses = [json.loads(line) for line in result.stdout.splitlines()]
    assert statuses[-1]["status"] == "succeeded"
    assert statuses[-1]["id"] == job_id
    assert statuses[-1]["current_epoch"] == 2


def test_watch_cancelled_job_exits_1(cli, api, centeros_server, ready_dataset_id):
    job = api.call("create_training_job", {"dataset_ids": [ready_dataset_id]})
    api.call("cancel_training", {"job_id": job["id"]})

    result = cli(
        "jobs",
        "watch",
        job["id"],
        "--interval",
        "0.3",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 1
    assert "cancelled" in result.stdout + result.stderr


def test_watch_unknown_job_exits_1(cli, centeros_server):
    result = cli(
        "jobs",
        "watch",
        "0123456789ab",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 1
    assert "0123456789ab" in result.stderr


# -- generated commands with typed options -------------------------------------------


def test_datasets_list_filters(cli, centeros_server, ready_dataset_id):
    env = {"CENTEROS_TOKEN": centeros_server.full_token}

    found = cli.json(
        "datasets",
        "list",
        "--search",
        "training-input",
        "--file-type",
        "hdf5",
        "--limit",
        "20",
        "--json",
        env=env,
    )
    other_type = cli.json(
        "datasets",
        "list",
        "--search",
        "training-input",
        "--file-type",
        "mcap",
        "--json",
        env=env,
    )

    assert ready_dataset_id in [row["id"] for row in found["data"]]
    assert found["meta"]["limit"] == 20
    assert other_type["data"] == []


def test_enum_option_rejects_unknown_value(cli, centeros_server):
    result = cli(
        "datasets",
        "list",
        "--file-type",
        "csv",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "--file-type" in result.stderr


def test_array_and_object_options(cli, centeros_server, ready_dataset_id):
    body = cli.json(
        "training",
        "create-job",
        "--dataset-ids",
        str(ready_dataset_id),
        "--hyperparameters",
        '{"epochs": 3, "batch_size": 16}',
        "--compute",
        '{"gpu_count": 0}',
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    job = body["data"]
    assert job["dataset_ids"] == [ready_dataset_id]
    assert job["hyperparameters"]["epochs"] == 3
    assert job["hyperparameters"]["batch_size"] == 16
    assert job["compute"]["gpu_count"] == 0
    assert job["status"] == "pending"


def test_object_option_rejects_non_object(cli, centeros_server):
    result = cli(
        "training",
        "create-job",
        "--dataset-ids",
        "1",
        "--hyperparameters",
        "[1]",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "JSON object" in result.stderr


def test_array_option_rejects_bad_item(cli, centeros_server):
    result = cli(
        "training",
        "create-job",
        "--dataset-ids",
        "1,two",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "'two' is not a valid integer" in result.stderr
