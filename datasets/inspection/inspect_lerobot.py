"""Inspection of LeRobot datasets (v2.0, v2.1 and v3.0) uploaded as an archive.

``meta/info.json`` gives what the dataset declares: fps, features, robot
type and the total episode and frame counts. What is present is counted from
the archive itself: the Parquet data files (row counts from their footers,
without reading row data) and, for v3.0, the episode table in
``meta/episodes/``. Both are reported, because uploads of a partial dataset
are common.
"""

import json
import logging
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .archives import Archive
from .errors import InspectionError
from .metadata import (
    EPISODE_FRAMES_LIMIT,
    KEYS_LIMIT,
    DatasetMetadata,
    KeyInfo,
    clean_robot_name,
    new_metadata,
    set_duration_from_fps,
    set_episode_frames,
)

logger = logging.getLogger(__name__)

# Metadata files are small, so these limits only guard memory against hostile uploads.
JSON_SIZE_LIMIT = 64 * 1024 * 1024
TASK_TABLE_SIZE_LIMIT = 64 * 1024 * 1024
TASKS_LIMIT = 100
TASK_TEXT_LIMIT = 500

# Feature dtypes that contain pictures rather than numbers.
IMAGE_DTYPES = ("video", "image")

# v2 data files are named data/chunk-000/episode_000029.parquet.
V2_EPISODE_FILE = re.compile(r"episode_(\d+)\.parquet$")

# Columns of the v3.0 episode table that locate each episode's rows.
V3_EPISODE_COLUMNS = ("episode_index", "length", "data/chunk_index", "data/file_index")

# Errors pyarrow raises for a file that is not valid Parquet (ArrowInvalid is
# a ValueError) or whose bytes end early (OSError from the wrapped stream).
PARQUET_ERRORS = (pa.ArrowException, ValueError, OSError)


def inspect_lerobot(archive: Archive, root: str) -> DatasetMetadata:
    """Inspect the LeRobot dataset whose ``meta/info.json`` is under ``root``.

    ``root`` is ``""`` or a folder path ending in ``/``. Raises
    InspectionError when info.json is malformed, the codebase version is not
    supported, or a Parquet file is damaged.
    """
    info = _read_info(archive, root)
    version = _codebase_version(info, root)
    layout = "lerobot_v3" if version.startswith("v3.") else "lerobot_v2"

    metadata = new_metadata("lerobot", layout)
    metadata["fps"] = _fps(info, root)
    metadata["robot"] = clean_robot_name(info.get("robot_type"))
    features = _features(info, root)
    _describe_features(metadata, features)

    if layout == "lerobot_v3":
        _count_v3_episodes(metadata, archive, root, info)
    else:
        _count_v2_episodes(metadata, archive, root)

    _compare_with_declared(metadata, info)
    set_duration_from_fps(metadata)

    names = archive.names
    metadata["extra"].update(
        {
            "codebase_version": version,
            "archive": archive.kind,
            "root": root.rstrip("/"),
            "total_tasks": _integer(info.get("total_tasks")),
            "tasks": _tasks(archive, root, layout),
            "cameras": [
                name
                for name, feature in features.items()
                if feature.get("dtype") in IMAGE_DTYPES
            ],
            "video_files": sum(
                1
                for name in names
                if name.startswith(root + "videos/") and name.endswith(".mp4")
            ),
        }
    )
    splits = info.get("splits")
    if isinstance(splits, dict):
        metadata["extra"]["splits"] = {
            str(key): str(value) for key, value in splits.items()
        }
    return metadata


def _read_info(archive: Archive, root: str) -> dict[str, Any]:
    """Read and parse meta/info.json, which must be a JSON object."""
    name = root + "meta/info.json"
    raw = archive.read_bytes(name, JSON_SIZE_LIMIT)
    try:
        info = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InspectionError(f"{name} is not valid JSON ({error}).") from error
    if not isinstance(info, dict):
        raise InspectionError(
            f"{name} must contain a JSON object, not {type(info).__name__}."
        )
    return info


def _codebase_version(info: dict[str, Any], root: str) -> str:
    """Return info.json's codebase_version, which must be v2.x or v3.x."""
    version = info.get("codebase_version")
    if not isinstance(version, str) or not re.match(r"^v[23]\.\d+$", version):
        raise InspectionError(
            f"{root}meta/info.json has codebase_version {version!r}; only LeRobot "
            "datasets v2.0, v2.1 and v3.0 are supported. Convert older datasets "
            "with LeRobot's conversion script first."
        )
    return version


def _fps(info: dict[str, Any], root: str) -> float:
    """Return info.json's fps, which must be a positive number."""
    fps = info.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, int | float) or fps <= 0:
        raise InspectionError(
            f"{root}meta/info.json has fps {fps!r}; it must be a positive number."
        )
    return float(fps)


def _features(info: dict[str, Any], root: str) -> dict[str, dict[str, Any]]:
    """Return info.json's features after checking each has a dtype and shape."""
    features = info.get("features")
    if not isinstance(features, dict):
        raise InspectionError(
            f"{root}meta/info.json has no features object; LeRobot datasets list "
            "their features there."
        )

    for name, feature in features.items():
        shape = feature.get("shape") if isinstance(feature, dict) else None
        valid_shape = isinstance(shape, list) and all(
            isinstance(size, int) and not isinstance(size, bool) for size in shape
        )
        if not valid_shape or not isinstance(feature.get("dtype"), str):
            raise InspectionError(
                f"{root}meta/info.json has an invalid feature {name!r}: each "
                "feature needs a dtype string and a shape list of integers."
            )
    return features


def _describe_features(
    metadata: DatasetMetadata, features: dict[str, dict[str, Any]]
) -> None:
    """Fill ``keys``, ``action_dim`` and ``observation_dim`` from the features.

    ``observation_dim`` sums the widths of the one-dimensional numeric
    ``observation.*`` features; images and videos are left out.
    """
    keys: list[KeyInfo] = [
        {"name": name, "shape": list(feature["shape"]), "dtype": feature["dtype"]}
        for name, feature in features.items()
    ]
    metadata["keys"] = keys[:KEYS_LIMIT]

    action = features.get("action")
    if action is not None and len(action["shape"]) == 1:
        metadata["action_dim"] = action["shape"][0]

    widths = [
        feature["shape"][0]
        for name, feature in features.items()
        if name.startswith("observation.")
        and feature["dtype"] not in (*IMAGE_DTYPES, "string")
        and len(feature["shape"]) == 1
    ]
    metadata["observation_dim"] = sum(widths) if widths else None


def _count_v2_episodes(metadata: DatasetMetadata, archive: Archive, root: str) -> None:
    """Count v2 episodes: one Parquet file per episode under data/."""
    data_files = _data_files(archive, root)
    episodes: list[tuple[bool, int, int]] = []
    for name in data_files:
        match = V2_EPISODE_FILE.search(name)
        index = int(match.group(1)) if match else -1
        # Files named otherwise still contain one episode each, sorted last.
        episodes.append((match is None, index, _parquet_rows(archive, name)))
    episodes.sort()

    set_episode_frames(metadata, [rows for _, _, rows in episodes])
    metadata["extra"]["data_files"] = len(data_files)

    # episodes.jsonl gives each episode's length. The lengths of the episodes
    # present are reported when any differs from its file's row count.
    declared = _declared_v2_lengths(archive, root, {index for _, index, _ in episodes})
    declared_frames = [declared.get(index) for _, index, _ in episodes]
    if any(
        length is not None and length != rows
        for length, (_, _, rows) in zip(declared_frames, episodes, strict=True)
    ):
        metadata["declared"]["episode_frames"] = declared_frames[:EPISODE_FRAMES_LIMIT]


def _declared_v2_lengths(
    archive: Archive, root: str, indexes: set[int]
) -> dict[int, int]:
    """Read the lengths meta/episodes.jsonl gives for the episodes present."""
    name = root + "meta/episodes.jsonl"
    if name not in archive.sizes:
        return {}

    lengths: dict[int, int] = {}
    with archive.open(name) as stream, archive.reading(name):
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InspectionError(
                    f"Line {number} of {name} is not valid JSON ({error})."
                ) from error
            if not isinstance(entry, dict):
                continue
            index = _integer(entry.get("episode_index"))
            length = _integer(entry.get("length"))
            if index in indexes and length is not None:
                lengths[index] = length
    return lengths


def _count_v3_episodes(
    metadata: DatasetMetadata, archive: Archive, root: str, info: dict[str, Any]
) -> None:
    """Count the v3.0 episodes whose data files are present, from the episode table.

    v3.0 packs many episodes into each data file. The episode table in
    meta/episodes/ names each episode's data file by chunk and file index.
    ``frames`` counts the rows of the data files present.
    """
    data_files = _data_files(archive, root)
    rows = sum(_parquet_rows(archive, name) for name in data_files)
    present_files = {name[len(root) :] for name in data_files}

    data_path = info.get("data_path")
    if not isinstance(data_path, str):
        raise InspectionError(f"{root}meta/info.json has no data_path template.")

    episode_tables = sorted(
        name
        for name in archive.names
        if name.startswith(root + "meta/episodes/") and name.endswith(".parquet")
    )
    if not episode_tables:
        raise InspectionError(
            f"The LeRobot v3.0 dataset has no episode table: {root}meta/episodes/ "
            "contains no Parquet files. Upload the complete meta folder."
        )

    lengths: dict[int, int] = {}
    for name in episode_tables:
        table = _read_episode_table(archive, name)
        for index, length, chunk, file in zip(
            *(table.column(column).to_pylist() for column in V3_EPISODE_COLUMNS),
            strict=True,
        ):
            if not isinstance(index, int) or not isinstance(length, int):
                raise InspectionError(
                    f"The episode table {name} has a row without an integer "
                    "episode_index or length."
                )
            try:
                path = data_path.format(chunk_index=chunk, file_index=file)
            except (KeyError, IndexError, ValueError) as error:
                raise InspectionError(
                    f"{root}meta/info.json has an invalid data_path {data_path!r} "
                    f"({error})."
                ) from error
            if path in present_files:
                lengths[index] = length

    set_episode_frames(metadata, [lengths[index] for index in sorted(lengths)])
    metadata["frames"] = rows
    metadata["extra"]["data_files"] = len(data_files)


def _read_episode_table(archive: Archive, name: str) -> pa.Table:
    """Read the columns of a v3.0 episode table that locate each episode."""
    with archive.open(name) as stream, archive.reading(name):
        try:
            parquet = pq.ParquetFile(stream)
            missing = [
                column
                for column in V3_EPISODE_COLUMNS
                if column not in parquet.schema_arrow.names
            ]
            if missing:
                raise InspectionError(
                    f"The episode table {name} lacks the columns {missing}."
                )
            return parquet.read(columns=list(V3_EPISODE_COLUMNS))
        except PARQUET_ERRORS as error:
            raise InspectionError(
                f"{name} is not a valid Parquet file; it is damaged or truncated "
                f"({error})."
            ) from error


def _data_files(archive: Archive, root: str) -> list[str]:
    """List the Parquet files under the dataset's data/ folder."""
    prefix = root + "data/"
    return sorted(
        name
        for name in archive.names
        if name.startswith(prefix) and name.endswith(".parquet")
    )


def _parquet_rows(archive: Archive, name: str) -> int:
    """Return a Parquet file's row count from its footer, reading no row data."""
    with archive.open(name) as stream, archive.reading(name):
        try:
            return pq.ParquetFile(stream).metadata.num_rows
        except PARQUET_ERRORS as error:
            raise InspectionError(
                f"{name} is not a valid Parquet file; it is damaged or truncated "
                f"({error})."
            ) from error


def _compare_with_declared(metadata: DatasetMetadata, info: dict[str, Any]) -> None:
    """Record info.json's totals in ``declared`` where they differ from the files."""
    declared_episodes = _integer(info.get("total_episodes"))
    if declared_episodes is not None and declared_episodes != metadata["episodes"]:
        metadata["declared"]["episodes"] = declared_episodes

    declared_frames = _integer(info.get("total_frames"))
    if declared_frames is not None and declared_frames != metadata["frames"]:
        metadata["declared"]["frames"] = declared_frames


def _tasks(archive: Archive, root: str, layout: str) -> list[str]:
    """Read up to TASKS_LIMIT task descriptions, or ``[]`` when there are none."""
    if layout == "lerobot_v2":
        return _v2_tasks(archive, root + "meta/tasks.jsonl")
    return _v3_tasks(archive, root + "meta/tasks.parquet")


def _v2_tasks(archive: Archive, name: str) -> list[str]:
    """Read task strings from a v2 tasks.jsonl file."""
    if name not in archive.sizes:
        return []

    tasks: list[str] = []
    with archive.open(name) as stream, archive.reading(name):
        for line in stream:
            if len(tasks) >= TASKS_LIMIT:
                break
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                logger.warning("Skipping a line of %s that is not valid JSON", name)
                continue
            if isinstance(entry, dict) and isinstance(entry.get("task"), str):
                tasks.append(entry["task"][:TASK_TEXT_LIMIT])
    return tasks


def _v3_tasks(archive: Archive, name: str) -> list[str]:
    """Read task strings from a v3.0 tasks.parquet table.

    The text comes from a ``task`` column, else from a stored pandas index
    (``__index_level_0__``), else from the first string column.
    """
    # NOTE: which of these columns LeRobot's own v3.0 writer uses has not
    # been checked against a published v3.0 dataset.
    if name not in archive.sizes or archive.sizes[name] > TASK_TABLE_SIZE_LIMIT:
        return []

    with archive.open(name) as stream, archive.reading(name):
        try:
            table = pq.ParquetFile(stream).read()
        except PARQUET_ERRORS as error:
            raise InspectionError(
                f"{name} is not a valid Parquet file; it is damaged or truncated "
                f"({error})."
            ) from error

    string_columns = [
        field.name
        for field in table.schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    for preferred in ("task", "__index_level_0__", *string_columns):
        if preferred in string_columns:
            values = table.column(preferred).to_pylist()[:TASKS_LIMIT]
            return [value[:TASK_TEXT_LIMIT] for value in values if value is not None]
    return []


def _integer(value: Any) -> int | None:
    """Return ``value`` when it is an integer (and not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
