"""The inspect_file entry point: dispatch an upload to the inspector for its type."""

import logging
import math
import os
from typing import BinaryIO

from .archives import Archive, find_roots
from .errors import InspectionError
from .filetypes import FileType, detect_file_type
from .inspect_hdf5 import inspect_hdf5
from .inspect_lerobot import inspect_lerobot
from .inspect_mcap import inspect_mcap
from .inspect_rosbag import inspect_rosbag1, inspect_rosbag2
from .metadata import DatasetMetadata, new_metadata
from .source import Source

logger = logging.getLogger(__name__)

LEROBOT_MARKER = "meta/info.json"
ROSBAG2_MARKER = "metadata.yaml"


def inspect_file(
    source: str | os.PathLike[str] | BinaryIO, *, filename: str
) -> DatasetMetadata:
    """Inspect an uploaded dataset file and return its metadata dictionary.

    ``source`` is a filesystem path or a seekable binary file object; a file
    object's position is restored afterwards. ``filename`` is the name the
    file was uploaded with, and its extension selects the format (see
    ``detect_file_type``). Only metadata is read, never whole datasets,
    except for MCAP files without a summary, which are scanned.

    Raises InspectionError, with a sentence for the uploader, when the file
    is empty, corrupt, truncated or not of the format its extension names.
    Raises ValueError or TypeError for invalid arguments, and
    FileNotFoundError for a path that names no file.
    """
    file_type = detect_file_type(filename)
    opened = Source(source)
    logger.info("Inspecting %r as %s (%d bytes)", filename, file_type, opened.size)

    try:
        if opened.size == 0:
            raise InspectionError(
                f"The file {filename!r} is empty (0 bytes); upload it again."
            )
        metadata = _inspect(opened, filename, file_type)
    except RecursionError:
        # Metadata files (LeRobot's info.json, ROS 2 metadata.yaml) are
        # parsed recursively, so absurd nesting ends up here.
        error = InspectionError(
            f"The metadata in {filename!r} is nested too deeply to be read; "
            "check that it was written by the recording tool."
        )
        logger.info("Inspection of %r failed: %s", filename, error)
        raise error
    except InspectionError as error:
        logger.info("Inspection of %r failed: %s", filename, error)
        raise
    finally:
        opened.close()

    metadata["extra"]["size_bytes"] = opened.size
    metadata = json_safe(metadata)
    logger.info(
        "Inspected %r: format=%s layout=%s episodes=%s frames=%s topics=%d",
        filename,
        metadata["format"],
        metadata["layout"],
        metadata["episodes"],
        metadata["frames"],
        len(metadata["topics"]),
    )
    return metadata


def _inspect(source: Source, filename: str, file_type: str) -> DatasetMetadata:
    """Run the inspector for ``file_type``."""
    if file_type == FileType.HDF5:
        return inspect_hdf5(source, filename)
    if file_type == FileType.MCAP:
        return inspect_mcap(source, filename)
    if file_type == FileType.ROSBAG:
        return inspect_rosbag1(source, filename)
    if file_type == FileType.ARCHIVE:
        return _inspect_archive(source, filename)
    return new_metadata(FileType.OTHER, None)


def _inspect_archive(source: Source, filename: str) -> DatasetMetadata:
    """Find the one LeRobot dataset or ROS 2 bag in an archive and inspect it."""
    with Archive(source, filename) as archive:
        lerobot_roots = find_roots(archive.names, LEROBOT_MARKER)
        rosbag2_roots = find_roots(archive.names, ROSBAG2_MARKER)

        if lerobot_roots and rosbag2_roots:
            raise InspectionError(
                f"The archive {filename!r} contains both a LeRobot dataset "
                f"({_folder(lerobot_roots[0])}) and a ROS 2 bag "
                f"({_folder(rosbag2_roots[0])}); upload one dataset per archive."
            )
        for roots, kind in (
            (lerobot_roots, "LeRobot datasets"),
            (rosbag2_roots, "ROS 2 bags"),
        ):
            if len(roots) > 1:
                listed = ", ".join(_folder(root) for root in roots[:5])
                raise InspectionError(
                    f"The archive {filename!r} contains {len(roots)} {kind} "
                    f"({listed}); upload one dataset per archive."
                )

        if lerobot_roots:
            return inspect_lerobot(archive, lerobot_roots[0])
        if rosbag2_roots:
            return inspect_rosbag2(archive, rosbag2_roots[0])

    raise InspectionError(
        f"The archive {filename!r} contains neither a LeRobot dataset "
        f"({LEROBOT_MARKER}) nor a ROS 2 bag ({ROSBAG2_MARKER}); put the "
        "dataset's folder in the archive, with those files in it."
    )


def _folder(root: str) -> str:
    """Name an archive folder for a message; the top level is shown as '/'."""
    return root.rstrip("/") or "/"


def json_safe(value):
    """Return ``value`` with every non-finite float replaced by None.

    Attributes in recorded files can hold NaN or infinity, which JSON and the
    database JSON columns cannot store.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
