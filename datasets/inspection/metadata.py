"""The metadata dictionary that every inspector returns, and helpers to fill it.

docs/dataset-metadata.md describes each key for each format.
"""

from typing import Any, TypedDict

# Long lists are cut to keep the stored metadata small. ``episodes`` stays
# exact when ``episode_frames`` is cut.
EPISODE_FRAMES_LIMIT = 10_000
KEYS_LIMIT = 10_000
TOPICS_LIMIT = 10_000


class KeyInfo(TypedDict):
    """One array in a dataset: an HDF5 dataset or a LeRobot feature."""

    name: str
    shape: list[int]
    dtype: str


class TopicInfo(TypedDict):
    """One topic of a recording, with its message type and message count."""

    name: str
    type: str | None
    count: int


class DatasetMetadata(TypedDict):
    """Summary of one uploaded dataset file; see docs/dataset-metadata.md."""

    format: str
    layout: str | None
    episodes: int | None
    frames: int | None
    episode_frames: list[int]
    duration_s: float | None
    fps: float | None
    action_dim: int | None
    observation_dim: int | None
    keys: list[KeyInfo]
    topics: list[TopicInfo]
    robot: str | None
    declared: dict[str, Any]
    extra: dict[str, Any]


def new_metadata(format_: str, layout: str | None) -> DatasetMetadata:
    """Return a metadata dictionary with every key present and nothing known."""
    return {
        "format": format_,
        "layout": layout,
        "episodes": None,
        "frames": None,
        "episode_frames": [],
        "duration_s": None,
        "fps": None,
        "action_dim": None,
        "observation_dim": None,
        "keys": [],
        "topics": [],
        "robot": None,
        "declared": {},
        "extra": {},
    }


def set_episode_frames(metadata: DatasetMetadata, episode_frames: list[int]) -> None:
    """Fill ``episodes``, ``frames`` and the capped ``episode_frames`` list."""
    metadata["episodes"] = len(episode_frames)
    metadata["frames"] = sum(episode_frames)
    metadata["episode_frames"] = episode_frames[:EPISODE_FRAMES_LIMIT]
    if len(episode_frames) > EPISODE_FRAMES_LIMIT:
        metadata["extra"]["episode_frames_truncated"] = True


def set_duration_from_fps(metadata: DatasetMetadata) -> None:
    """Derive ``duration_s`` from ``frames`` and ``fps`` when both are known."""
    frames = metadata["frames"]
    fps = metadata["fps"]
    if frames is not None and fps:
        metadata["duration_s"] = round(frames / fps, 6)


def nanoseconds_to_seconds(nanoseconds: int) -> float:
    """Convert a nanosecond span to seconds, rounded to the nanosecond."""
    return round(nanoseconds / 1e9, 9)


def topics_from_counts(counts: dict[tuple[str, str | None], int]) -> list[TopicInfo]:
    """Build the sorted ``topics`` list from counts keyed by (topic, type)."""
    topics: list[TopicInfo] = [
        {"name": name, "type": type_, "count": count}
        for (name, type_), count in counts.items()
    ]
    topics.sort(key=lambda topic: (topic["name"], topic["type"] or ""))
    return topics[:TOPICS_LIMIT]


def clean_robot_name(value: Any) -> str | None:
    """Turn a robot hint (string, list of strings or bytes) into one string.

    Empty values and the placeholder ``"unknown"`` that LeRobot writes when
    the robot is not known become None.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple):
        names = [clean_robot_name(item) for item in value]
        value = ", ".join(name for name in names if name)
    if not isinstance(value, str):
        return None

    value = value.strip()
    if not value or value.lower() == "unknown":
        return None
    return value
