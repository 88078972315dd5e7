"""The whole loop over real HTTP: upload a recorded dataset, train, register,
evaluate and promote, with a real task worker process."""

import hashlib
import time

import h5py
import httpx
import pytest
from django.core.files.storage import default_storage

from tests.factories import MembershipFactory
from tests.worker import start_worker, stop_worker
from training.trainer.policy import load_policy

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

DEMO = "hdf5/robosuite_raw_wipe_panda/demo.hdf5"


class Api:
    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.token = None

    def action(self, name: str, params: dict | None = None) -> dict:
        response = self.http.post(
            f"/api/actions/{name}",
            json={"params": params or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body = response.json()
        assert response.status_code == 200, (name, response.status_code, body)
        assert body["ok"] is True
        return body["data"]


def expected_from_file(path) -> dict:
    with h5py.File(path, "r") as handle:
        demos = sorted(handle["data"].keys())
        first = handle["data"][demos[0]]
        return {
            "episodes": len(demos),
            "frames": sum(handle["data"][d]["actions"].shape[0] for d in demos),
            "action_dim": first["actions"].shape[1],
            "observation_dim": first["states"].shape[1],
        }


def test_upload_train_register_promote(live_server, settings, tmp_path, recorded_data):
    settings.CENTEROS_PUBLIC_URL = live_server.url
    source = recorded_data / DEMO
    content = source.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    expected = expected_from_file(source)

    membership = MembershipFactory(role="admin")
    api = Api(live_server.url)

    # Log in with a password, then make a PAT and use it from here on.
    login = api.http.post(
        "/api/auth/login",
        json={"username": membership.user.username, "password": "correct-horse-42"},
    )
    assert login.status_code == 200
    api.token = login.json()["access_token"]
    pat = api.action("create_pat", {"name": "e2e", "scopes": ["*"]})
    api.token = pat["token"]

    # Upload through the signed URL and confirm.
    signed = api.action(
        "get_upload_signed_url",
        {"filename": "demo.hdf5", "file_size": len(content), "sha256": digest},
    )
    put = httpx.put(
        signed["upload_url"],
        content=content,
        headers=signed.get("headers") or {},
        timeout=30,
    )
    assert put.status_code == 200, put.text
    dataset = api.action("confirm_upload", {"dataset_id": signed["dataset_id"]})
    assert dataset["status"] == "ready"
    metadata = dataset["metadata"]
    assert metadata["episodes"] == expected["episodes"]
    assert metadata["frames"] == expected["frames"]
    assert metadata["action_dim"] == expected["action_dim"]
    assert metadata["observation_dim"] == expected["observation_dim"]

    # Train with a real worker process.
    job = api.action(
        "create_training_job",
        {
            "name": "wipe-bc",
            "model_type": "bc_mlp",
            "dataset_ids": [dataset["id"]],
            "hyperparameters": {"epochs": 40, "batch_size": 32, "seed": 1},
        },
    )
    api.action("launch_training", {"job_id": job["id"]})
    worker = start_worker(tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 180
        status = api.action("get_training_status", {"job_id": job["id"]})
        while status["status"] not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
            status = api.action("get_training_status", {"job_id": job["id"]})
    finally:
        stop_worker(worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert status["status"] == "succeeded", (status, log[-3000:])

    losses = [entry["loss"] for entry in status["metrics"]]
    assert len(losses) == 40
    assert losses[-1] < losses[0]
    artifact = status["artifact"]
    assert default_storage.exists(artifact["key"])
    policy = load_policy(default_storage.path(artifact["key"]))
    assert policy.config["action_dim"] == expected["action_dim"]

    # Register, evaluate, promote, and read the lineage.
    model = api.action(
        "register_model", {"name": "wipe-bc", "training_job_id": job["id"]}
    )
    assert model["version"] == 1
    assert model["status"] == "draft"
    evaluation = api.action(
        "create_evaluation", {"model_id": model["id"], "name": "sim-wipe"}
    )
    api.action(
        "record_evaluation_result",
        {
            "evaluation_id": evaluation["id"],
            "metrics": {"success_rate": 0.8},
            "passed": True,
        },
    )
    promoted = api.action(
        "promote_model", {"model_id": model["id"], "target_status": "validated"}
    )
    assert promoted["status"] == "validated"

    lineage = api.action("get_model_lineage", {"model_id": model["id"]})
    assert lineage["training_job"]["id"] == job["id"]
    assert [d["sha256"] for d in lineage["datasets"]] == [digest]
    assert len(lineage["evaluations"]) == 1
    assert [t["to_status"] for t in lineage["transitions"]] == ["validated"]
