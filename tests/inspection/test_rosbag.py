"""Tests of ROS 1 bag and ROS 2 bag archive inspection on the recorded bags."""

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from rosbags.rosbag1 import Reader as Ros1Reader

from datasets.inspection import InspectionError, inspect_file

from .builders import tar_folder, zip_folder
from .conftest import ROSBAG2_MCAP_FOLDER, ROSBAG2_SQLITE3_FOLDER

TILT_LASER = "ros1_bag/tilt_laser.bag"
TF_EXAMPLE = "ros1_bag/tf_example.bag"


def _topic_counts(metadata: dict) -> dict[str, int]:
    return {topic["name"]: topic["count"] for topic in metadata["topics"]}


def test_tilt_laser_matches_reference_values(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / TILT_LASER, filename="tilt_laser.bag")

    # Reference values published with the recorded files.
    assert metadata["format"] == "rosbag"
    assert metadata["layout"] == "ros1"
    assert metadata["extra"]["message_count"] == 4093
    assert metadata["duration_s"] == pytest.approx(17.694, abs=5e-4)
    counts = _topic_counts(metadata)
    assert len(counts) == 9
    for topic in ("/imu_data", "/position_gps", "/info_gps", "/gravity_vector"):
        assert counts[topic] == 356
    assert counts["/magnetic_vector"] == 356
    assert counts["/temperature"] == 712
    assert counts["/velocity"] == 712
    assert counts["/tf"] == 711
    assert counts["/scan"] == 178


def test_tilt_laser_custom_types_listed(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / TILT_LASER, filename="tilt_laser.bag")

    types = {topic["name"]: topic["type"] for topic in metadata["topics"]}
    # The xsens_mtig types are defined only inside the bag.
    assert types["/info_gps"] == "xsens_mtig/msg/GPSInfoStatus2"
    assert types["/temperature"] == "xsens_mtig/msg/Thermistor"
    assert types["/imu_data"] == "sensor_msgs/msg/Imu"


@pytest.mark.parametrize("relative", [TILT_LASER, TF_EXAMPLE])
def test_ros1_agrees_with_rosbags(recorded_data: Path, relative: str) -> None:
    path = recorded_data / relative

    metadata = inspect_file(path, filename=path.name)

    with Ros1Reader(path) as reader:
        expected = {topic: info.msgcount for topic, info in reader.topics.items()}
        message_count = reader.message_count
        chunk_count = len(reader.chunk_infos)
    assert _topic_counts(metadata) == expected
    assert metadata["extra"]["message_count"] == message_count
    assert metadata["extra"]["chunk_count"] == chunk_count


def test_ros1_from_file_object(recorded_data: Path) -> None:
    path = recorded_data / TF_EXAMPLE
    with open(path, "rb") as stream:
        from_stream = inspect_file(stream, filename="tf_example.bag")

    assert from_stream == inspect_file(path, filename="tf_example.bag")


def test_tf_example_bag_and_rosbag2_agree(
    recorded_data: Path, rosbag2_sqlite3_tar: Path
) -> None:
    ros1 = inspect_file(recorded_data / TF_EXAMPLE, filename="tf_example.bag")
    ros2 = inspect_file(rosbag2_sqlite3_tar, filename="tf_example.tar")

    # Reference values: 518 messages over 51.685 s, /tf 517 and /tf_static 1.
    assert ros1["topics"] == ros2["topics"]
    assert _topic_counts(ros2) == {"/tf": 517, "/tf_static": 1}
    assert ros1["extra"]["message_count"] == ros2["extra"]["message_count"] == 518
    assert ros1["duration_s"] == ros2["duration_s"]
    assert ros2["duration_s"] == pytest.approx(51.685, abs=5e-4)


def test_rosbag2_sqlite3(rosbag2_sqlite3_tar: Path) -> None:
    metadata = inspect_file(rosbag2_sqlite3_tar, filename="tf_example.tar")

    assert metadata["format"] == "rosbag2"
    assert metadata["layout"] == "ros2_sqlite3"
    assert metadata["declared"] == {}
    assert metadata["extra"]["storage_identifier"] == "sqlite3"
    assert metadata["extra"]["metadata_version"] == 8
    assert metadata["extra"]["files"] == ["tf_example.db3"]
    assert metadata["extra"]["root"] == "tf_example"
    assert metadata["extra"]["counted_from"] == "storage"


def test_rosbag2_mcap(rosbag2_mcap_zip: Path) -> None:
    metadata = inspect_file(rosbag2_mcap_zip, filename="talker.zip")

    # Reference values: 20 messages over 4.531 s.
    assert metadata["layout"] == "ros2_mcap"
    assert metadata["extra"]["message_count"] == 20
    assert metadata["duration_s"] == pytest.approx(4.531, abs=5e-4)
    assert metadata["topics"] == [
        {
            "name": "/parameter_events",
            "type": "rcl_interfaces/msg/ParameterEvent",
            "count": 0,
        },
        {"name": "/rosout", "type": "rcl_interfaces/msg/Log", "count": 10},
        {"name": "/topic", "type": "std_msgs/msg/String", "count": 10},
    ]
    assert metadata["extra"]["root"] == ""


def test_rosbag2_from_gzip_tar(recorded_data: Path, tmp_path: Path) -> None:
    archive = tar_folder(
        recorded_data / ROSBAG2_MCAP_FOLDER, tmp_path / "talker.tgz", mode="w:gz"
    )

    metadata = inspect_file(archive, filename="talker.tgz")

    assert metadata["extra"]["message_count"] == 20
    assert metadata["extra"]["archive"] == "tar"


def test_rosbag2_temporary_files_removed(
    rosbag2_sqlite3_tar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)

    inspect_file(rosbag2_sqlite3_tar, filename="tf_example.tar")

    assert list(scratch.iterdir()) == []


def _copy_bag(recorded_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "tf_example"
    shutil.copytree(recorded_data / ROSBAG2_SQLITE3_FOLDER, folder)
    return folder


def _edit_metadata(folder: Path, **changes: object) -> None:
    path = folder / "metadata.yaml"
    document = yaml.safe_load(path.read_text())
    document["rosbag2_bagfile_information"].update(changes)
    path.write_text(yaml.safe_dump(document))


def test_rosbag2_declared_count_differs(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    _edit_metadata(folder, message_count=600)
    archive = zip_folder(folder, tmp_path / "bag.zip")

    metadata = inspect_file(archive, filename="bag.zip")

    assert metadata["extra"]["message_count"] == 518
    assert metadata["declared"] == {"message_count": 600}


def test_rosbag2_missing_storage_file(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    (folder / "tf_example.db3").unlink()
    archive = zip_folder(folder, tmp_path / "bag.zip")

    with pytest.raises(
        InspectionError,
        match="lists the storage file 'tf_example.db3', which the archive does not contain",
    ):
        inspect_file(archive, filename="bag.zip")


def test_rosbag2_unsafe_storage_name(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    _edit_metadata(folder, relative_file_paths=["../x?mode=rw.db3"])
    archive = zip_folder(folder, tmp_path / "bag.zip")

    with pytest.raises(InspectionError, match="may contain only letters, digits"):
        inspect_file(archive, filename="bag.zip")


def test_rosbag2_unsupported_storage(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    _edit_metadata(folder, storage_identifier="hdf5")
    archive = zip_folder(folder, tmp_path / "bag.zip")

    with pytest.raises(InspectionError, match="storage plugin 'hdf5'"):
        inspect_file(archive, filename="bag.zip")


def test_rosbag2_invalid_yaml(tmp_path: Path) -> None:
    archive = tmp_path / "bag.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("bag/metadata.yaml", "rosbag2_bagfile_information: [unclosed")

    with pytest.raises(InspectionError, match="bag/metadata.yaml is not valid YAML"):
        inspect_file(archive, filename="bag.zip")


def test_rosbag2_yaml_of_something_else(tmp_path: Path) -> None:
    archive = tmp_path / "bag.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("metadata.yaml", "title: my notes\n")

    with pytest.raises(InspectionError, match="has no rosbag2_bagfile_information"):
        inspect_file(archive, filename="bag.zip")


def test_rosbag2_damaged_database(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    database = folder / "tf_example.db3"
    data = bytearray(database.read_bytes())
    data[4096:8192] = b"\x00" * 4096
    database.write_bytes(bytes(data))
    archive = tar_folder(folder, tmp_path / "bag.tar")

    with pytest.raises(InspectionError) as raised:
        inspect_file(archive, filename="bag.tar")

    message = str(raised.value)
    assert (
        "could not be read; its metadata.yaml or storage files are damaged" in message
    )
    assert "centeros-inspect-" not in message


def test_rosbag2_tar_symlink_not_followed(recorded_data: Path, tmp_path: Path) -> None:
    folder = _copy_bag(recorded_data, tmp_path)
    (folder / "tf_example.db3").unlink()
    (folder / "tf_example.db3").symlink_to(
        recorded_data / ROSBAG2_SQLITE3_FOLDER / "tf_example.db3"
    )
    archive = tmp_path / "bag.tar"
    with tarfile.open(archive, "w") as output:
        output.add(folder, arcname="bag")

    with pytest.raises(InspectionError, match="which the archive does not contain"):
        inspect_file(archive, filename="bag.tar")
