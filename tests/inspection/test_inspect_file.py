"""Tests of detect_file_type, FileType and inspect_file's argument handling."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.inspection import (
    FileType,
    InspectionError,
    detect_file_type,
    inspect_file,
)

METADATA_KEYS = {
    "format",
    "layout",
    "episodes",
    "frames",
    "episode_frames",
    "duration_s",
    "fps",
    "action_dim",
    "observation_dim",
    "keys",
    "topics",
    "robot",
    "declared",
    "extra",
}


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("demo.hdf5", "hdf5"),
        ("demo.h5", "hdf5"),
        ("swath.HE5", "hdf5"),
        ("run.mcap", "mcap"),
        ("tilt_laser.bag", "rosbag"),
        ("dataset.zip", "archive"),
        ("dataset.tar", "archive"),
        ("dataset.tar.gz", "archive"),
        ("dataset.TGZ", "archive"),
        ("folder/sub/episode.hdf5", "hdf5"),
        ("notes.txt", "other"),
        ("episode_000029.parquet", "other"),
        ("bag.db3", "other"),
        ("archive.gz", "other"),
        ("hdf5", "other"),
    ],
)
def test_detect_file_type_by_extension(filename: str, expected: str) -> None:
    assert detect_file_type(filename) == expected


@pytest.mark.parametrize("filename", ["", "   ", None, 5])
def test_detect_file_type_rejects_blank_name(filename: object) -> None:
    with pytest.raises(ValueError, match="filename must be a non-empty string"):
        detect_file_type(filename)  # type: ignore[arg-type]


def test_file_type_values() -> None:
    assert [member.value for member in FileType] == [
        "hdf5",
        "lerobot",
        "mcap",
        "rosbag",
        "rosbag2",
        "archive",
        "other",
    ]
    assert FileType("mcap") is FileType.MCAP
    assert f"{FileType.HDF5}" == "hdf5"


def test_other_file_reports_size_only(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"calibration notes\n" * 10)

    metadata = inspect_file(path, filename="notes.txt")

    assert set(metadata) == METADATA_KEYS
    assert metadata["format"] == "other"
    assert metadata["layout"] is None
    assert metadata["episodes"] is None
    assert metadata["keys"] == []
    assert metadata["topics"] == []
    assert metadata["extra"] == {"size_bytes": 180}


def test_recorded_video_is_other(recorded_data: Path) -> None:
    video = next((recorded_data / "lerobot_v2.1").rglob("*.mp4"))

    metadata = inspect_file(video, filename=video.name)

    assert metadata["format"] == "other"
    assert metadata["extra"]["size_bytes"] == video.stat().st_size


def test_string_path_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x")

    metadata = inspect_file(str(path), filename="notes.txt")

    assert metadata["extra"]["size_bytes"] == 1


def test_file_object_position_restored(tmp_path: Path) -> None:
    stream = io.BytesIO(b"0123456789")
    stream.seek(4)

    inspect_file(stream, filename="notes.txt")

    assert stream.tell() == 4


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")

    with pytest.raises(InspectionError, match=r"'empty.txt' is empty \(0 bytes\)"):
        inspect_file(path, filename="empty.txt")


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No file to inspect"):
        inspect_file(tmp_path / "absent.hdf5", filename="absent.hdf5")


def test_text_stream_rejected() -> None:
    with pytest.raises(TypeError, match="binary mode"):
        inspect_file(io.StringIO("text"), filename="notes.txt")


def test_non_seekable_stream_rejected() -> None:
    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(TypeError, match="must be seekable"):
        inspect_file(Pipe(), filename="demo.hdf5")


def test_object_without_read_rejected() -> None:
    with pytest.raises(TypeError, match="got int"):
        inspect_file(42, filename="demo.hdf5")  # type: ignore[arg-type]


def test_metadata_is_json_serializable(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x" * 3)

    metadata = inspect_file(path, filename="notes.txt")

    assert json.loads(json.dumps(metadata)) == metadata


def test_library_imports_no_django() -> None:
    """The inspection package runs outside Django, in workers and benchmarks."""
    script = (
        "import sys, datasets.inspection; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("relative", "filename"),
    [
        ("hdf5/robosuite_raw_wipe_panda/demo.hdf5", "demo.hdf5"),
        ("mcap/evo_nav2_turtlebot/nav2_turtlebot.mcap", "nav2_turtlebot.mcap"),
        ("ros1_bag/tf_example.bag", "tf_example.bag"),
    ],
)
def test_caller_stream_left_open(
    recorded_data: Path, relative: str, filename: str
) -> None:
    with open(recorded_data / relative, "rb", buffering=0) as raw_file:
        raw_file.seek(7)

        inspect_file(raw_file, filename=filename)

        assert not raw_file.closed
        assert raw_file.tell() == 7
