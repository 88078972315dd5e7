"""Inspection of ROS 1 bags and of ROS 2 bags uploaded as an archive.

Both use the ``rosbags`` readers, which need files on disk. A ROS 1 bag
given as a stream is copied to a temporary file. A ROS 2 bag's metadata.yaml
and storage files are extracted from the archive to a temporary directory.
Either is removed before the inspector returns.

rosbags (0.11) reports message types in ROS 2 form (``sensor_msgs/msg/Imu``)
for ROS 1 bags too, so the two kinds of bag summarize the same data
identically. Its ``end_time`` lies one nanosecond after the last message,
while durations here run from the first message to the last.
"""

import logging
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import apsw
import yaml
from rosbags.rosbag1 import Reader as Ros1Reader
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.rosbag2 import Reader as Ros2Reader
from rosbags.rosbag2 import ReaderError as Ros2ReaderError

from .archives import Archive
from .errors import InspectionError
from .filetypes import ROSBAG_MAGIC_PREFIX, ROSBAG_V2_MAGIC, content_hint
from .metadata import (
    DatasetMetadata,
    TopicInfo,
    nanoseconds_to_seconds,
    new_metadata,
    topics_from_counts,
)
from .source import TEMPORARY_PREFIX, Source

logger = logging.getLogger(__name__)

METADATA_YAML_LIMIT = 16 * 1024 * 1024

# rosbags raises its ReaderError for malformed bags, but a damaged SQLite
# database surfaces from the sqlite3 storage plugin as apsw.Error, or as
# UnicodeDecodeError when a damaged page still parses but its text does not.
ROS2_READ_ERRORS = (Ros2ReaderError, apsw.Error, UnicodeDecodeError)

SUPPORTED_STORAGE = ("sqlite3", "mcap")
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class BagCounts(NamedTuple):
    """Topics, message count and first and last message times of a bag."""

    topics: list[TopicInfo]
    message_count: int
    times: tuple[int | None, int | None]


def inspect_rosbag1(source: Source, filename: str) -> DatasetMetadata:
    """Inspect a ROS 1 bag (format version 2.0) and return its metadata.

    Raises InspectionError when the file is not a bag, uses another bag
    format version, is not indexed, or its index is damaged or cut off.
    """
    head = source.head()
    if not head.startswith(ROSBAG_MAGIC_PREFIX):
        raise InspectionError(
            f"The file {filename!r} is not a ROS 1 bag: it does not start with "
            f"'#ROSBAG V2.0'{content_hint(head, filename)}."
        )
    if not head.startswith(ROSBAG_V2_MAGIC):
        version = head[len(ROSBAG_MAGIC_PREFIX) :].split(b"\n", 1)[0]
        raise InspectionError(
            f"The ROS 1 bag {filename!r} uses bag format "
            f"{version.decode('ascii', errors='replace')!r}; only format 2.0 "
            "is supported."
        )

    with source.as_path() as path:
        try:
            with Ros1Reader(path) as reader:
                return _ros1_metadata(reader)
        except Ros1ReaderError as error:
            raise InspectionError(
                f"The ROS 1 bag {filename!r} could not be read; it is truncated "
                f"or damaged ({error}). Upload the complete file, or run "
                "'rosbag reindex' on it if the recording was interrupted."
            ) from error


def _ros1_metadata(reader: Ros1Reader) -> DatasetMetadata:
    """Build the metadata of an open ROS 1 bag from its index."""
    metadata = new_metadata("rosbag", "ros1")

    # Counting per connection keeps a topic recorded with two message types
    # as two entries instead of one entry without a type.
    counts: dict[tuple[str, str | None], int] = {}
    for connection in reader.connections:
        key = (connection.topic, connection.msgtype)
        counts[key] = counts.get(key, 0) + connection.msgcount
    metadata["topics"] = topics_from_counts(counts)

    message_count = reader.message_count
    start, end = _message_times(message_count, reader.start_time, reader.end_time)
    _set_times(metadata, start, end)
    metadata["extra"].update(
        {
            "message_count": message_count,
            "start_time_ns": start,
            "end_time_ns": end,
            "bag_version": "2.0",
            "connection_count": len(reader.connections),
            "chunk_count": len(reader.chunk_infos),
        }
    )
    return metadata


def inspect_rosbag2(archive: Archive, root: str) -> DatasetMetadata:
    """Inspect the ROS 2 bag whose metadata.yaml is under ``root`` in ``archive``.

    Message counts and times are taken from the storage files present, and
    metadata.yaml's own figures go to ``declared`` where they differ.
    """
    bag_info = _read_bag_info(archive, root)
    storage_identifier = bag_info.get("storage_identifier")
    if storage_identifier not in SUPPORTED_STORAGE:
        raise InspectionError(
            f"{root}metadata.yaml names the storage plugin {storage_identifier!r}; "
            "only sqlite3 and mcap bags are supported."
        )
    storage_names = _storage_names(archive, root, bag_info)

    with tempfile.TemporaryDirectory(prefix=TEMPORARY_PREFIX) as folder:
        bag_folder = Path(folder)
        archive.extract(root + "metadata.yaml", bag_folder / "metadata.yaml")
        for name in storage_names:
            archive.extract(root + name, bag_folder / name)
        logger.debug("Extracted the ROS 2 bag at %r to %s", root, bag_folder)

        try:
            metadata = _ros2_metadata(bag_folder, storage_names)
        except ROS2_READ_ERRORS as error:
            # The reader's message names the temporary folder, which means
            # nothing to the uploader.
            detail = str(error).replace(f"{bag_folder}/", "")
            raise InspectionError(
                f"The ROS 2 bag in {archive.filename!r} could not be read; its "
                f"metadata.yaml or storage files are damaged ({detail})."
            ) from error

    metadata["layout"] = f"ros2_{storage_identifier}"
    metadata["extra"].update(
        {
            "storage_identifier": storage_identifier,
            "metadata_version": bag_info.get("version"),
            "ros_distro": bag_info.get("ros_distro"),
            "files": storage_names,
            "archive": archive.kind,
            "root": root.rstrip("/"),
        }
    )
    return metadata


def _read_bag_info(archive: Archive, root: str) -> dict[str, Any]:
    """Parse metadata.yaml and return its rosbag2_bagfile_information mapping."""
    name = root + "metadata.yaml"
    raw = archive.read_bytes(name, METADATA_YAML_LIMIT)
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise InspectionError(f"{name} is not valid YAML ({error}).") from error

    bag_info = None
    if isinstance(document, dict):
        bag_info = document.get("rosbag2_bagfile_information")
    if not isinstance(bag_info, dict):
        raise InspectionError(
            f"{name} has no rosbag2_bagfile_information mapping, so it does not "
            "describe a ROS 2 bag."
        )
    return bag_info


def _storage_names(archive: Archive, root: str, bag_info: dict[str, Any]) -> list[str]:
    """Return the storage file names metadata.yaml lists, checking each is present.

    rosbag2 resolves each relative path by its last component inside the bag
    folder, and so does this function. Names are limited to letters, digits,
    dots, dashes and underscores because they become file names on disk and
    part of an SQLite URI.
    """
    paths = bag_info.get("relative_file_paths")
    if not isinstance(paths, list) or not paths:
        raise InspectionError(
            f"{root}metadata.yaml lists no storage files under relative_file_paths."
        )

    names = []
    for path in paths:
        name = PurePosixPath(str(path).replace("\\", "/")).name
        if not SAFE_FILE_NAME.match(name) or name in (".", ".."):
            raise InspectionError(
                f"{root}metadata.yaml lists the storage file {path!r}; file names "
                "may contain only letters, digits, '.', '-' and '_'."
            )
        if root + name not in archive.sizes:
            raise InspectionError(
                f"{root}metadata.yaml lists the storage file {name!r}, which the "
                "archive does not contain. Add it to the archive and upload again."
            )
        names.append(name)
    return names


def _ros2_metadata(bag_folder: Path, storage_names: list[str]) -> DatasetMetadata:
    """Build the metadata of an extracted ROS 2 bag."""
    metadata = new_metadata("rosbag2", None)

    # Opening the folder validates metadata.yaml and opens every storage
    # file. The counts it reports are the ones metadata.yaml declares.
    with Ros2Reader(bag_folder) as bag:
        declared = BagCounts(
            topics=topics_from_counts(
                {(c.topic, c.msgtype): c.msgcount for c in bag.connections}
            ),
            message_count=bag.message_count,
            times=_message_times(bag.message_count, bag.start_time, bag.end_time),
        )
        compression_mode = bag.compression_mode or None
        compression_format = bag.compression_format or None

    if compression_mode == "file":
        # Whole-file compression hides the storage files from a direct open,
        # so metadata.yaml's counts are all there is.
        present = declared
        counted_from = "metadata.yaml"
    else:
        present = _count_storage_files(bag_folder, storage_names)
        counted_from = "storage"

    start, end = present.times
    metadata["topics"] = present.topics
    _set_times(metadata, start, end)
    metadata["declared"] = _differences(present, declared)
    metadata["extra"].update(
        {
            "message_count": present.message_count,
            "start_time_ns": start,
            "end_time_ns": end,
            "compression_format": compression_format,
            "compression_mode": compression_mode,
            "counted_from": counted_from,
        }
    )
    return metadata


def _count_storage_files(bag_folder: Path, storage_names: list[str]) -> BagCounts:
    """Count messages per topic and the time span in the storage files themselves."""
    counts: dict[tuple[str, str | None], int] = {}
    message_count = 0
    starts: list[int] = []
    ends: list[int] = []

    for name in storage_names:
        with Ros2Reader(bag_folder / name) as storage:
            for connection in storage.connections:
                key = (connection.topic, connection.msgtype)
                counts[key] = counts.get(key, 0) + connection.msgcount
            message_count += storage.message_count
            start, end = _message_times(
                storage.message_count, storage.start_time, storage.end_time
            )
            if start is not None and end is not None:
                starts.append(start)
                ends.append(end)

    times = (min(starts), max(ends)) if starts else (None, None)
    return BagCounts(topics_from_counts(counts), message_count, times)


def _differences(present: BagCounts, declared: BagCounts) -> dict[str, Any]:
    """Return the figures metadata.yaml declares that differ from the files."""
    differences: dict[str, Any] = {}
    if declared.message_count != present.message_count:
        differences["message_count"] = declared.message_count
    if declared.topics != present.topics:
        differences["topics"] = declared.topics
    if declared.times != present.times:
        start, end = declared.times
        differences["duration_s"] = _duration(start, end)
    return differences


def _message_times(
    message_count: int, start_time: int, end_time: int
) -> tuple[int | None, int | None]:
    """Return the first and last message times from a rosbags reader's span.

    rosbags' ``end_time`` is one nanosecond after the last message, and its
    times are placeholders when a bag has no messages.
    """
    if not message_count:
        return None, None
    return start_time, end_time - 1


def _duration(start: int | None, end: int | None) -> float | None:
    """Return the seconds between two message times, or None if unknown."""
    if start is None or end is None:
        return None
    return nanoseconds_to_seconds(end - start)


def _set_times(metadata: DatasetMetadata, start: int | None, end: int | None) -> None:
    """Set ``duration_s`` from the first and last message times."""
    metadata["duration_s"] = _duration(start, end)
