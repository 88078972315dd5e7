"""Tests of MCAP inspection on the recorded files, with and without a summary."""

from pathlib import Path

import pytest
from mcap.reader import NonSeekingReader

from datasets.inspection import InspectionError, inspect_file

from .builders import CountingReader, rewrite_mcap_without_summary

OUSTER = "mcap/pointcloudset_ouster/test.mcap"
NAV2 = "mcap/evo_nav2_turtlebot/nav2_turtlebot.mcap"
TALKER = "rosbag2_mcap/talker/talker.mcap"


def _reference_counts(path: Path) -> dict[str, int]:
    """Count messages per topic by reading every message with mcap's reader."""
    counts: dict[str, int] = {}
    with open(path, "rb") as stream:
        for _, channel, _ in NonSeekingReader(stream).iter_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
    return counts


def _topic_counts(metadata: dict) -> dict[str, int]:
    return {topic["name"]: topic["count"] for topic in metadata["topics"]}


def test_ouster_matches_reference_values(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / OUSTER, filename="test.mcap")

    # Reference values published with the recorded files.
    assert metadata["format"] == "mcap"
    assert metadata["layout"] == "mcap"
    assert metadata["extra"]["message_count"] == 273
    assert metadata["extra"]["channel_count"] == 11
    assert metadata["extra"]["schema_count"] == 10
    assert metadata["extra"]["chunk_count"] == 2
    assert metadata["duration_s"] == pytest.approx(0.183, abs=5e-4)
    counts = _topic_counts(metadata)
    assert counts["/os1_node/lidar_packets"] == 206
    assert counts["/os1_node/imu_packets"] == 17
    assert counts["/os1_cloud_node/imu"] == 17
    assert counts["/os1_cloud_node/points"] == 2
    assert counts["/rosout_agg"] == 12
    assert counts["/tf_static"] == 1
    assert counts["/img_node/range_image"] == 2


def test_ouster_merges_channels_of_one_topic(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / OUSTER, filename="test.mcap")

    # /rosout has two channels (10 and 2 messages) with the same schema.
    rosout = [topic for topic in metadata["topics"] if topic["name"] == "/rosout"]
    assert rosout == [{"name": "/rosout", "type": "rosgraph_msgs/Log", "count": 12}]


def test_ouster_header_and_source(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / OUSTER, filename="test.mcap")

    assert metadata["extra"]["profile"] == "ros1"
    assert metadata["extra"]["message_encodings"] == ["ros1"]
    assert metadata["extra"]["counted_from"] == "summary"
    assert metadata["episodes"] is None
    assert metadata["keys"] == []


def test_nav2_matches_reference_values(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / NAV2, filename="nav2_turtlebot.mcap")

    assert metadata["extra"]["message_count"] == 8197
    assert metadata["extra"]["channel_count"] == 4
    assert metadata["duration_s"] == pytest.approx(97.355, abs=5e-4)
    assert metadata["topics"] == [
        {
            "name": "/amcl_pose",
            "type": "geometry_msgs/msg/PoseWithCovarianceStamped",
            "count": 135,
        },
        {"name": "/odom", "type": "nav_msgs/msg/Odometry", "count": 2639},
        {"name": "/tf", "type": "tf2_msgs/msg/TFMessage", "count": 5422},
        {"name": "/tf_static", "type": "tf2_msgs/msg/TFMessage", "count": 1},
    ]


@pytest.mark.parametrize("relative", [OUSTER, NAV2, TALKER])
def test_counts_agree_with_full_read(recorded_data: Path, relative: str) -> None:
    path = recorded_data / relative

    metadata = inspect_file(path, filename=path.name)

    expected = _reference_counts(path)
    counts = {name: count for name, count in _topic_counts(metadata).items() if count}
    assert counts == expected


def test_file_without_summary_is_scanned(recorded_data: Path, tmp_path: Path) -> None:
    rewritten = rewrite_mcap_without_summary(
        recorded_data / OUSTER, tmp_path / "bare.mcap"
    )

    scanned = inspect_file(rewritten, filename="bare.mcap")
    summarized = inspect_file(recorded_data / OUSTER, filename="test.mcap")

    assert scanned["extra"]["counted_from"] == "scan"
    assert scanned["topics"] == summarized["topics"]
    assert scanned["duration_s"] == summarized["duration_s"]
    assert scanned["extra"]["message_count"] == 273


def test_scan_detects_damaged_chunk(recorded_data: Path, tmp_path: Path) -> None:
    rewritten = rewrite_mcap_without_summary(
        recorded_data / NAV2, tmp_path / "bare.mcap"
    )
    data = bytearray(rewritten.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    rewritten.write_bytes(bytes(data))

    with pytest.raises(
        InspectionError, match="is damaged: its records could not be parsed"
    ):
        inspect_file(rewritten, filename="bare.mcap")


def test_talker_storage_file_alone(recorded_data: Path) -> None:
    metadata = inspect_file(recorded_data / TALKER, filename="talker.mcap")

    assert metadata["format"] == "mcap"
    assert metadata["extra"]["profile"] == "ros2"
    assert metadata["extra"]["message_count"] == 20
    assert metadata["duration_s"] == pytest.approx(4.531, abs=5e-4)
    assert _topic_counts(metadata) == {
        "/parameter_events": 0,
        "/rosout": 10,
        "/topic": 10,
    }


def test_raw_stream_left_open(recorded_data: Path) -> None:
    """mcap wraps raw streams in a buffer of its own that would close them."""
    with open(recorded_data / NAV2, "rb") as raw_file:
        counting = CountingReader(raw_file)
        counting.seek(10)

        metadata = inspect_file(counting, filename="nav2_turtlebot.mcap")

        assert metadata["extra"]["message_count"] == 8197
        assert not counting.closed
        assert counting.tell() == 10


def test_summary_read_touches_little_of_file(recorded_data: Path) -> None:
    path = recorded_data / OUSTER
    with open(path, "rb") as raw_file:
        counting = CountingReader(raw_file)
        inspect_file(counting, filename="test.mcap")

    assert counting.bytes_read < path.stat().st_size // 20
