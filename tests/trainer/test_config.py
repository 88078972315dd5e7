"""Trainer config and hyperparameter validation."""

import pytest

from training.trainer import TrainerError
from training.trainer.config import (
    Hyperparameters,
    check_model_type,
    parse_config,
    parse_hyperparameters,
)


def test_hyperparameter_defaults():
    hyper = parse_hyperparameters({})

    assert hyper == Hyperparameters()
    assert hyper.epochs == 50
    assert hyper.batch_size == 64
    assert hyper.learning_rate == 1e-3
    assert hyper.hidden_sizes == (256, 256)
    assert hyper.seed == 0
    assert hyper.validation_split == 0.1
    assert hyper.weight_decay == 0


def test_hyperparameters_accept_valid_values():
    hyper = parse_hyperparameters(
        {
            "epochs": 3,
            "batch_size": 8,
            "learning_rate": 5e-4,
            "hidden_sizes": [32],
            "seed": 7,
            "validation_split": 0,
            "weight_decay": 1e-4,
        }
    )

    assert hyper.hidden_sizes == (32,)
    assert hyper.validation_split == 0.0
    assert hyper.learning_rate == 5e-4


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("epochs", 0),
        ("epochs", "5"),
        ("epochs", True),
        ("epochs", 2.5),
        ("batch_size", 0),
        ("learning_rate", 0),
        ("learning_rate", -0.1),
        ("learning_rate", 2),
        ("learning_rate", "fast"),
        ("learning_rate", float("nan")),
        ("hidden_sizes", []),
        ("hidden_sizes", [0]),
        ("hidden_sizes", [1.5]),
        ("hidden_sizes", "256"),
        ("hidden_sizes", [64] * 9),
        ("seed", -1),
        ("validation_split", 1.0),
        ("validation_split", -0.1),
        ("weight_decay", -1),
    ],
)
def test_invalid_hyperparameter_names_key(key, value):
    with pytest.raises(TrainerError, match=key):
        parse_hyperparameters({key: value})


def test_unknown_hyperparameter_is_rejected():
    with pytest.raises(TrainerError, match="'lr'"):
        parse_hyperparameters({"lr": 0.01})


@pytest.mark.parametrize("name", ["bc_mlp", "bc", "mlp", " MLP "])
def test_builtin_model_type_aliases(name):
    assert check_model_type(name) == "bc_mlp"


def test_act_names_lerobot_train():
    with pytest.raises(TrainerError) as raised:
        check_model_type("act")

    message = str(raised.value)
    assert "covers only bc_mlp" in message
    assert "`lerobot-train`" in message
    assert "not installed on this worker" in message


def test_config_requires_dataset_files(tmp_path):
    raw = {
        "job_id": "j1",
        "model_type": "bc_mlp",
        "dataset_files": [],
        "output_path": str(tmp_path / "p.npz"),
    }

    with pytest.raises(TrainerError, match="dataset_files"):
        parse_config(raw)


def test_config_rejects_unknown_file_type(tmp_path):
    raw = {
        "job_id": "j1",
        "model_type": "bc_mlp",
        "dataset_files": [{"path": str(tmp_path), "file_type": "mcap"}],
        "output_path": str(tmp_path / "p.npz"),
    }

    with pytest.raises(TrainerError, match="'mcap'"):
        parse_config(raw)


def test_config_requires_npz_output(tmp_path):
    dataset = tmp_path / "d.hdf5"
    dataset.write_bytes(b"")
    raw = {
        "job_id": "j1",
        "model_type": "bc_mlp",
        "dataset_files": [{"path": str(dataset), "file_type": "hdf5"}],
        "output_path": str(tmp_path / "policy.pt"),
    }

    with pytest.raises(TrainerError, match=r"\.npz"):
        parse_config(raw)


def test_config_requires_job_id(tmp_path):
    with pytest.raises(TrainerError, match="job_id"):
        parse_config({"job_id": "", "model_type": "bc_mlp"})
