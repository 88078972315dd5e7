"""Damaged copies of every recorded file must raise InspectionError with a clear message.

Each recorded file (and each recorded folder, as an archive) is truncated to
half its size, replaced by random bytes of the same length, emptied, and
uploaded under another format's extension.
"""

import os
import shutil
from pathlib import Path

import pytest

from datasets.inspection import InspectionError, inspect_file

from .builders import tar_folder, zip_folder
from .conftest import LEROBOT_FOLDER, ROSBAG2_MCAP_FOLDER, ROSBAG2_SQLITE3_FOLDER

# Recorded file -> the words a message about its truncated copy must contain.
RECORDED_FILES = {
    "hdf5/robosuite_raw_wipe_panda/demo.hdf5": "is truncated",
    "mcap/pointcloudset_ouster/test.mcap": "is truncated",
    "mcap/evo_nav2_turtlebot/nav2_turtlebot.mcap": "is truncated",
    "ros1_bag/tilt_laser.bag": "truncated or damaged",
    "ros1_bag/tf_example.bag": "truncated or damaged",
    "rosbag2_mcap/talker/talker.mcap": "is truncated",
}

# Recorded folder -> archive name; uploads of folders are archives.
RECORDED_FOLDERS = {
    LEROBOT_FOLDER: "unitree_g1_pick_bottle.zip",
    ROSBAG2_SQLITE3_FOLDER: "tf_example.tar",
    ROSBAG2_MCAP_FOLDER: "talker.tar.gz",
}

# For each extension, another extension whose format the file does not have.
WRONG_EXTENSIONS = {".hdf5": ".mcap", ".mcap": ".bag", ".bag": ".hdf5"}


def _archive_of(recorded_data: Path, folder: str, name: str, tmp_path: Path) -> Path:
    source = recorded_data / folder
    destination = tmp_path / name
    if name.endswith(".zip"):
        return zip_folder(source, destination)
    mode = "w:gz" if name.endswith(".tar.gz") else "w"
    return tar_folder(source, destination, mode=mode)


def _recorded_uploads(recorded_data: Path, tmp_path: Path) -> list[tuple[Path, str]]:
    """Return (path, upload name) for every recorded file and folder."""
    uploads = [
        (recorded_data / relative, Path(relative).name) for relative in RECORDED_FILES
    ]
    for folder, name in RECORDED_FOLDERS.items():
        uploads.append((_archive_of(recorded_data, folder, name, tmp_path), name))
    return uploads


def test_recorded_data_all_covered(recorded_data: Path) -> None:
    """Every recorded dataset file is exercised by the damage tests."""
    covered = set(RECORDED_FILES)
    covered |= {
        path.relative_to(recorded_data).as_posix()
        for folder in RECORDED_FOLDERS
        for path in (recorded_data / folder).rglob("*")
        if path.is_file()
    }
    present = {
        path.relative_to(recorded_data).as_posix()
        for path in recorded_data.rglob("*")
        if path.is_file() and path.name != "PROVENANCE.md"
    }
    assert present <= covered


@pytest.mark.parametrize("relative", sorted(RECORDED_FILES))
def test_truncated_file(recorded_data: Path, tmp_path: Path, relative: str) -> None:
    original = recorded_data / relative
    damaged = tmp_path / original.name
    damaged.write_bytes(original.read_bytes()[: original.stat().st_size // 2])

    with pytest.raises(InspectionError) as raised:
        inspect_file(damaged, filename=original.name)

    message = str(raised.value)
    assert RECORDED_FILES[relative] in message
    assert repr(original.name) in message


@pytest.mark.parametrize(("folder", "name"), sorted(RECORDED_FOLDERS.items()))
def test_truncated_archive(
    recorded_data: Path, tmp_path: Path, folder: str, name: str
) -> None:
    archive = _archive_of(recorded_data, folder, name, tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(InspectionError) as raised:
        inspect_file(archive, filename=name)

    message = str(raised.value)
    assert f"The file {name!r} is not a readable" in message
    assert "truncated" in message


def test_garbage_bytes(recorded_data: Path, tmp_path: Path) -> None:
    for path, name in _recorded_uploads(recorded_data, tmp_path):
        garbage = tmp_path / f"garbage-{name}"
        # The first byte is fixed so random bytes never start with a magic
        # number by chance.
        garbage.write_bytes(b"\x00" + os.urandom(path.stat().st_size - 1))

        with pytest.raises(InspectionError) as raised:
            inspect_file(garbage, filename=name)

        message = str(raised.value)
        assert message.startswith(f"The file {name!r} is not "), message


def test_empty_copy(recorded_data: Path, tmp_path: Path) -> None:
    for _, name in _recorded_uploads(recorded_data, tmp_path):
        empty = tmp_path / f"empty-{name}"
        empty.write_bytes(b"")

        with pytest.raises(InspectionError, match=r"is empty \(0 bytes\)"):
            inspect_file(empty, filename=name)


@pytest.mark.parametrize("relative", sorted(RECORDED_FILES))
def test_wrong_extension(recorded_data: Path, tmp_path: Path, relative: str) -> None:
    original = recorded_data / relative
    wrong_name = original.stem + WRONG_EXTENSIONS[original.suffix]
    renamed = tmp_path / wrong_name
    shutil.copyfile(original, renamed)

    with pytest.raises(InspectionError) as raised:
        inspect_file(renamed, filename=wrong_name)

    message = str(raised.value)
    assert message.startswith(f"The file {wrong_name!r} is not ")
    assert f"so upload it with the {original.suffix} extension" in message


def test_zip_named_as_tar(recorded_data: Path, tmp_path: Path) -> None:
    archive = zip_folder(recorded_data / LEROBOT_FOLDER, tmp_path / "dataset.zip")

    with pytest.raises(InspectionError) as raised:
        inspect_file(archive, filename="dataset.tar")

    message = str(raised.value)
    assert "is not a readable tar archive" in message
    assert "looks like a zip archive, so upload it with the .zip extension" in message


def test_hdf5_named_as_zip(recorded_data: Path, tmp_path: Path) -> None:
    original = recorded_data / "hdf5/robosuite_raw_wipe_panda/demo.hdf5"

    with pytest.raises(InspectionError) as raised:
        inspect_file(original, filename="demo.zip")

    assert "looks like an HDF5 file, so upload it with the .hdf5 extension" in str(
        raised.value
    )


def test_unsupported_ros1_bag_version(tmp_path: Path) -> None:
    path = tmp_path / "old.bag"
    path.write_bytes(b"#ROSBAG V1.2\n" + b"\x00" * 100)

    with pytest.raises(
        InspectionError, match=r"uses bag format '1.2'; only format 2.0"
    ):
        inspect_file(path, filename="old.bag")


def test_unindexed_ros1_bag(recorded_data: Path, tmp_path: Path) -> None:
    data = bytearray((recorded_data / "ros1_bag/tf_example.bag").read_bytes())
    # The bag header record stores index_pos; a recorder killed before it
    # closes the bag leaves it at zero.
    position = data.index(b"index_pos=") + len(b"index_pos=")
    data[position : position + 8] = b"\x00" * 8
    path = tmp_path / "interrupted.bag"
    path.write_bytes(bytes(data))

    with pytest.raises(InspectionError) as raised:
        inspect_file(path, filename="interrupted.bag")

    message = str(raised.value)
    assert "Bag is not indexed" in message
    assert "rosbag reindex" in message


def test_ros2_archive_compression_bomb_is_rejected(
    tmp_path, monkeypatch, recorded_data
):
    import tarfile

    from datasets.inspection.archives import Archive

    monkeypatch.setattr(Archive, "MIN_EXTRACT_BUDGET", 1024 * 1024)
    bag = tmp_path / "bag"
    shutil.copytree(recorded_data / ROSBAG2_SQLITE3_FOLDER, bag)
    for database in bag.glob("*.db3"):
        database.chmod(0o644)
        database.write_bytes(b"\0" * (64 * 1024 * 1024))
    archive = tmp_path / "bag.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bag, arcname="bag")

    with pytest.raises(InspectionError, match="compression bomb"):
        inspect_file(archive, filename="bag.tar.gz")
