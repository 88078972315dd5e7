"""Tests of LeRobot inspection on the recorded v2.1 dataset and synthetic v3.0 ones."""

import json
import shutil
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datasets.inspection import InspectionError, inspect_file

from .builders import tar_folder, write_lerobot_v3, zip_folder
from .conftest import LEROBOT_FOLDER


def _recorded_parquet_rows(recorded_data: Path) -> list[int]:
    """Row counts of the recorded data files, read with pyarrow directly."""
    files = sorted((recorded_data / LEROBOT_FOLDER / "data").rglob("*.parquet"))
    return [pq.read_metadata(path).num_rows for path in files]


def _recorded_info(recorded_data: Path) -> dict:
    return json.loads(
        (recorded_data / LEROBOT_FOLDER / "meta" / "info.json").read_text()
    )


def test_recorded_v21_present_and_declared(lerobot_zip: Path) -> None:
    metadata = inspect_file(lerobot_zip, filename=lerobot_zip.name)

    # Reference values published with the recorded files: info.json declares
    # 100 episodes and 35,965 frames; only episode 29 (221 frames) is present.
    assert metadata["format"] == "lerobot"
    assert metadata["layout"] == "lerobot_v2"
    assert metadata["episodes"] == 1
    assert metadata["frames"] == 221
    assert metadata["episode_frames"] == [221]
    assert metadata["declared"] == {"episodes": 100, "frames": 35965}


def test_recorded_v21_features(lerobot_zip: Path) -> None:
    metadata = inspect_file(lerobot_zip, filename=lerobot_zip.name)

    assert metadata["fps"] == 30.0
    assert metadata["robot"] == "Unitree_G1_Inspire"
    assert metadata["action_dim"] == 26
    assert metadata["observation_dim"] == 26
    assert metadata["duration_s"] == pytest.approx(221 / 30, abs=1e-6)
    assert {"name": "action", "shape": [26], "dtype": "float32"} in metadata["keys"]
    camera = {
        "name": "observation.images.cam_high",
        "shape": [480, 640, 3],
        "dtype": "video",
    }
    assert camera in metadata["keys"]


def test_recorded_v21_extra(lerobot_zip: Path) -> None:
    metadata = inspect_file(lerobot_zip, filename=lerobot_zip.name)

    extra = metadata["extra"]
    assert extra["codebase_version"] == "v2.1"
    assert extra["archive"] == "zip"
    assert extra["root"] == "unitree_g1_pick_bottle"
    assert extra["cameras"] == ["observation.images.cam_high"]
    assert extra["video_files"] == 1
    assert extra["data_files"] == 1
    assert extra["tasks"] == ["Pick up the yellow bottle on the table."]


def test_recorded_v21_agrees_with_pyarrow(
    recorded_data: Path, lerobot_zip: Path
) -> None:
    metadata = inspect_file(lerobot_zip, filename=lerobot_zip.name)

    info = _recorded_info(recorded_data)
    assert metadata["episode_frames"] == _recorded_parquet_rows(recorded_data)
    assert [key["name"] for key in metadata["keys"]] == list(info["features"])


@pytest.mark.parametrize(
    ("name", "mode"),
    [("dataset.tar", "w"), ("dataset.tar.gz", "w:gz"), ("dataset.tgz", "w:gz")],
)
def test_recorded_v21_from_tar(
    recorded_data: Path, tmp_path: Path, lerobot_zip: Path, name: str, mode: str
) -> None:
    archive = tar_folder(recorded_data / LEROBOT_FOLDER, tmp_path / name, mode=mode)

    from_tar = inspect_file(archive, filename=name)
    from_zip = inspect_file(lerobot_zip, filename=lerobot_zip.name)

    assert from_tar["extra"]["archive"] == "tar"
    for key in ("episodes", "frames", "episode_frames", "declared", "keys", "robot"):
        assert from_tar[key] == from_zip[key]


def test_recorded_v21_from_file_object(lerobot_zip: Path) -> None:
    with open(lerobot_zip, "rb") as stream:
        from_stream = inspect_file(stream, filename="upload.zip")

    assert from_stream == inspect_file(lerobot_zip, filename="upload.zip")


def test_v21_declared_episode_length_differs(
    recorded_data: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "dataset"
    shutil.copytree(recorded_data / LEROBOT_FOLDER, folder)
    episodes = folder / "meta" / "episodes.jsonl"
    lines = [json.loads(line) for line in episodes.read_text().splitlines()]
    for line in lines:
        if line["episode_index"] == 29:
            line["length"] = 250
    episodes.write_text("".join(json.dumps(line) + "\n" for line in lines))
    archive = zip_folder(folder, tmp_path / "dataset.zip")

    metadata = inspect_file(archive, filename="dataset.zip")

    assert metadata["episode_frames"] == [221]
    assert metadata["declared"]["episode_frames"] == [250]


def test_v3_complete_dataset(tmp_path: Path) -> None:
    folder = write_lerobot_v3(
        tmp_path / "so100", [[30, 40], [50, 60]], declared_episodes=4
    )
    archive = zip_folder(folder, tmp_path / "so100.zip")

    metadata = inspect_file(archive, filename="so100.zip")

    assert metadata["layout"] == "lerobot_v3"
    assert metadata["episodes"] == 4
    assert metadata["frames"] == 180
    assert metadata["episode_frames"] == [30, 40, 50, 60]
    assert metadata["declared"] == {}
    assert metadata["fps"] == 10.0
    assert metadata["duration_s"] == 18.0


def test_v3_features_and_tasks(tmp_path: Path) -> None:
    folder = write_lerobot_v3(tmp_path / "so100", [[30]], declared_episodes=1)
    archive = zip_folder(folder, tmp_path / "so100.zip")

    metadata = inspect_file(archive, filename="so100.zip")

    assert metadata["robot"] == "so100"
    assert metadata["action_dim"] == 6
    # observation.state (6) + observation.environment_state (4); the video
    # feature is left out.
    assert metadata["observation_dim"] == 10
    assert metadata["extra"]["tasks"] == ["Pick the cube."]
    assert metadata["extra"]["cameras"] == ["observation.images.front"]


def test_v3_partial_upload(tmp_path: Path) -> None:
    folder = write_lerobot_v3(
        tmp_path / "so100", [[30, 40], [50, 60]], declared_episodes=4
    )
    (folder / "data" / "chunk-000" / "file-001.parquet").unlink()
    archive = tar_folder(folder, tmp_path / "so100.tar.gz", mode="w:gz")

    metadata = inspect_file(archive, filename="so100.tar.gz")

    assert metadata["episodes"] == 2
    assert metadata["frames"] == 70
    assert metadata["episode_frames"] == [30, 40]
    assert metadata["declared"] == {"episodes": 4, "frames": 180}


def test_v3_without_episode_table(tmp_path: Path) -> None:
    folder = write_lerobot_v3(tmp_path / "so100", [[30]], declared_episodes=1)
    shutil.rmtree(folder / "meta" / "episodes")
    archive = zip_folder(folder, tmp_path / "so100.zip")

    with pytest.raises(InspectionError, match="has no episode table"):
        inspect_file(archive, filename="so100.zip")


def test_archive_without_info_json(recorded_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    shutil.copytree(recorded_data / LEROBOT_FOLDER, folder)
    (folder / "meta" / "info.json").unlink()
    archive = zip_folder(folder, tmp_path / "dataset.zip")

    with pytest.raises(
        InspectionError, match=r"neither a LeRobot dataset \(meta/info.json\)"
    ):
        inspect_file(archive, filename="dataset.zip")


def test_info_json_invalid(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("meta/info.json", "{not json")

    with pytest.raises(InspectionError, match="meta/info.json is not valid JSON"):
        inspect_file(archive, filename="broken.zip")


@pytest.mark.parametrize("version", ["v1.6", None, "3.0", "v4.0"])
def test_codebase_version_unsupported(tmp_path: Path, version: object) -> None:
    archive = tmp_path / "old.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr(
            "meta/info.json", json.dumps({"codebase_version": version, "fps": 10})
        )

    with pytest.raises(
        InspectionError, match="only LeRobot datasets v2.0, v2.1 and v3.0"
    ):
        inspect_file(archive, filename="old.zip")


@pytest.mark.parametrize("fps", [0, -5, "thirty", None, True])
def test_fps_invalid(tmp_path: Path, fps: object) -> None:
    archive = tmp_path / "dataset.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr(
            "meta/info.json",
            json.dumps({"codebase_version": "v2.1", "fps": fps, "features": {}}),
        )

    with pytest.raises(InspectionError, match="it must be a positive number"):
        inspect_file(archive, filename="dataset.zip")


def test_feature_without_shape(tmp_path: Path) -> None:
    archive = tmp_path / "dataset.zip"
    info = {
        "codebase_version": "v2.1",
        "fps": 30,
        "features": {"action": {"dtype": "float32"}},
    }
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("meta/info.json", json.dumps(info))

    with pytest.raises(InspectionError, match="invalid feature 'action'"):
        inspect_file(archive, filename="dataset.zip")


def test_truncated_parquet_in_archive(recorded_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dataset"
    shutil.copytree(recorded_data / LEROBOT_FOLDER, folder)
    parquet = next((folder / "data").rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    archive = zip_folder(folder, tmp_path / "dataset.zip")

    with pytest.raises(InspectionError) as raised:
        inspect_file(archive, filename="dataset.zip")

    message = str(raised.value)
    assert (
        "data/chunk-000/episode_000029.parquet is not a valid Parquet file" in message
    )
    assert "damaged or truncated" in message


def test_two_datasets_in_one_archive(recorded_data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as output:
        for prefix in ("first/", "second/"):
            info = recorded_data / LEROBOT_FOLDER / "meta" / "info.json"
            output.write(info, prefix + "meta/info.json")

    with pytest.raises(
        InspectionError, match=r"contains 2 LeRobot datasets \(first, second\)"
    ):
        inspect_file(archive, filename="two.zip")


def test_macos_resource_forks_ignored(recorded_data: Path, tmp_path: Path) -> None:
    archive = zip_folder(
        recorded_data / LEROBOT_FOLDER, tmp_path / "mac.zip", prefix="g1/"
    )
    with zipfile.ZipFile(archive, "a") as output:
        output.writestr("__MACOSX/g1/meta/._info.json", b"\x00\x05\x16\x07")
        output.writestr("__MACOSX/g1/meta/info.json", b"\x00\x05\x16\x07")

    metadata = inspect_file(archive, filename="mac.zip")

    assert metadata["extra"]["root"] == "g1"
    assert metadata["frames"] == 221
