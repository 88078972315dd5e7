"""Inspection of HDF5 recordings: robomimic, robosuite raw demos, ALOHA and others.

Only the file's structure is read: group members, dataset shapes and dtypes,
and the attributes of the root and ``data`` groups. Dataset contents are never
read, so a multi-gigabyte file costs a few kilobytes of I/O. External links
are not followed, because they name other files on the server's disk.
"""

import json
import logging
import re
from typing import Any

import h5py
import numpy as np

from .errors import InspectionError
from .filetypes import HDF5_SIGNATURE, content_hint
from .metadata import (
    KEYS_LIMIT,
    DatasetMetadata,
    KeyInfo,
    clean_robot_name,
    new_metadata,
    set_duration_from_fps,
    set_episode_frames,
)
from .source import Source

logger = logging.getLogger(__name__)

# robomimic and robosuite name episodes demo_0, demo_1, ... under /data.
DEMO_NAME = re.compile(r"^demo_(\d+)$")

# Group names that make episodes obvious in files of no known layout.
EPISODE_NAME = re.compile(r"^(?:demo|episode|ep|traj|trajectory|rollout)_?(\d+)$")

# Attribute names that carry a robot or embodiment name in the wild.
ROBOT_ATTRIBUTES = ("robot", "robots", "robot_type", "robot_name", "embodiment")
ENV_ATTRIBUTES = ("env", "env_name")

# String attributes are cut to this length in ``extra["attributes"]``.
ATTRIBUTE_TEXT_LIMIT = 1000

# h5py reports a short file as "truncated file: eof = N, ..., stored_eof = M".
TRUNCATED_MESSAGE = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")


def inspect_hdf5(source: Source, filename: str) -> DatasetMetadata:
    """Inspect an HDF5 file and return its metadata.

    Raises InspectionError when the file is not HDF5, is truncated, or its
    structure cannot be read.
    """
    _check_signature(source, filename)
    file = _open(source, filename)

    with file:
        try:
            return _inspect_layout(file)
        except (OSError, RuntimeError, KeyError) as error:
            raise InspectionError(
                f"The HDF5 file {filename!r} is damaged: reading its groups and "
                f"datasets failed ({error})."
            ) from error


def _check_signature(source: Source, filename: str) -> None:
    """Raise InspectionError unless the HDF5 signature is where HDF5 allows it.

    The signature is at offset 0, or after a user block at 512, 1024, 2048
    and further powers of two.
    """
    if source.head(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
        return

    offset = 512
    while offset + len(HDF5_SIGNATURE) <= source.size:
        if source.read_at(offset, len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
            return
        offset *= 2

    raise InspectionError(
        f"The file {filename!r} is not an HDF5 file: it has no HDF5 "
        f"signature{content_hint(source.head(), filename)}."
    )


def _open(source: Source, filename: str) -> h5py.File:
    """Open the file read-only through its path, or through its stream."""
    target: Any = source.path if source.path is not None else source.stream
    try:
        return h5py.File(target, "r")
    except OSError as error:
        truncated = TRUNCATED_MESSAGE.search(str(error))
        if truncated:
            actual, expected = truncated.groups()
            raise InspectionError(
                f"The HDF5 file {filename!r} is truncated: it has {actual} bytes "
                f"but its superblock records {expected}. Upload the complete file."
            ) from error
        raise InspectionError(
            f"The HDF5 file {filename!r} could not be opened because it is "
            f"damaged ({error})."
        ) from error


def _inspect_layout(file: h5py.File) -> DatasetMetadata:
    """Detect the layout of an open file and run the matching inspector."""
    data = _member(file, "data")
    demos = _numbered_groups(data, DEMO_NAME) if isinstance(data, h5py.Group) else []
    if demos:
        first_demo = demos[0][1]
        if isinstance(_member(first_demo, "obs"), h5py.Group):
            return _inspect_robomimic(file, data, demos)
        if isinstance(_member(first_demo, "states"), h5py.Dataset):
            return _inspect_robosuite_raw(file, data, demos)

    observations = _member(file, "observations")
    if isinstance(observations, h5py.Group) and isinstance(
        _member(observations, "qpos"), h5py.Dataset
    ):
        if isinstance(_member(file, "action"), h5py.Dataset):
            return _inspect_aloha(file, observations)

    return _inspect_generic(file)


def _inspect_robomimic(
    file: h5py.File, data: h5py.Group, demos: list[tuple[str, h5py.Group]]
) -> DatasetMetadata:
    """Inspect robomimic's ``data/demo_N/{actions, obs/*, ...}`` layout."""
    metadata = new_metadata("hdf5", "robomimic")
    set_episode_frames(metadata, [_episode_length(demo) for _, demo in demos])

    # Shapes come from the first demo: robomimic writes the same keys with
    # the same per-step shapes in every demo of a file.
    first_demo = demos[0][1]
    metadata["keys"] = _list_keys(first_demo, per_frame=True)
    metadata["action_dim"] = _step_width(_member(first_demo, "actions"))
    metadata["observation_dim"] = _low_dim_width(_member(first_demo, "obs"))

    env_args = _json_attribute(data, "env_args")
    env_kwargs = env_args.get("env_kwargs") if isinstance(env_args, dict) else None
    if isinstance(env_args, dict):
        metadata["extra"]["env"] = env_args.get("env_name")
    if isinstance(env_kwargs, dict):
        metadata["robot"] = clean_robot_name(env_kwargs.get("robots"))
        metadata["fps"] = _positive_number(env_kwargs.get("control_freq"))
        controller = env_kwargs.get("controller_configs")
        if isinstance(controller, dict):
            metadata["extra"]["controller"] = controller.get("type")

    # robomimic stores the total number of samples as data.attrs["total"].
    declared_total = _read_attribute(data, "total")
    if isinstance(declared_total, int) and declared_total != metadata["frames"]:
        metadata["declared"]["frames"] = declared_total

    mask = _member(file, "mask")
    if isinstance(mask, h5py.Group):
        metadata["extra"]["filter_keys"] = sorted(mask.keys())

    _add_attribute_hints(metadata, file, data)
    set_duration_from_fps(metadata)
    return metadata


def _inspect_robosuite_raw(
    file: h5py.File, data: h5py.Group, demos: list[tuple[str, h5py.Group]]
) -> DatasetMetadata:
    """Inspect robosuite's raw ``data/demo_N/{actions, states}`` demo layout."""
    metadata = new_metadata("hdf5", "robosuite_raw")
    set_episode_frames(metadata, [_episode_length(demo) for _, demo in demos])

    first_demo = demos[0][1]
    metadata["keys"] = _list_keys(first_demo, per_frame=True)
    metadata["action_dim"] = _step_width(_member(first_demo, "actions"))
    metadata["observation_dim"] = _step_width(_member(first_demo, "states"))

    env = _read_attribute(data, "env")
    if env is not None:
        metadata["extra"]["env"] = env
    env_info = _json_attribute(data, "env_info")
    if isinstance(env_info, dict):
        metadata["robot"] = clean_robot_name(env_info.get("robots"))
        metadata["fps"] = _positive_number(env_info.get("control_freq"))
        controller = env_info.get("controller_configs")
        if isinstance(controller, dict):
            metadata["extra"]["controller"] = controller.get("type")
    for name in ("repository_version", "date", "time"):
        value = _read_attribute(data, name)
        if value is not None:
            metadata["extra"][name] = value

    _add_attribute_hints(metadata, file, data)
    set_duration_from_fps(metadata)
    return metadata


def _inspect_aloha(file: h5py.File, observations: h5py.Group) -> DatasetMetadata:
    """Inspect the ALOHA/ACT layout: one episode per file.

    The file contains ``action`` and ``observations/{qpos, qvel, effort,
    images/*}``, each with one row per time step.
    """
    metadata = new_metadata("hdf5", "aloha")
    action = _member(file, "action")
    set_episode_frames(metadata, [_first_dimension(action)])

    metadata["keys"] = _list_keys(file, per_frame=True)
    metadata["action_dim"] = _step_width(action)
    metadata["observation_dim"] = _low_dim_width(observations)

    images = _member(observations, "images")
    if isinstance(images, h5py.Group):
        metadata["extra"]["cameras"] = sorted(images.keys())
    for name in ("sim", "compress"):
        value = _read_attribute(file, name)
        if value is not None:
            metadata["extra"][name] = value

    _add_attribute_hints(metadata, file, None)
    return metadata


def _inspect_generic(file: h5py.File) -> DatasetMetadata:
    """List every dataset of a file of no known layout.

    Episodes are counted only when groups are named like episodes
    (``episode_0``, ``demo_1``, ``traj_2``, ...) at the top level or one level
    down. Frames are counted only when each such group has an ``action`` or
    ``actions`` dataset.
    """
    metadata = new_metadata("hdf5", "generic")
    datasets: list[KeyInfo] = []
    group_count = 0

    def visit(name: str, item: Any) -> None:
        nonlocal group_count
        if isinstance(item, h5py.Dataset):
            datasets.append(_key_info(name, item, per_frame=False))
        elif isinstance(item, h5py.Group):
            group_count += 1

    file.visititems(visit)
    metadata["keys"] = datasets[:KEYS_LIMIT]
    metadata["extra"]["datasets"] = len(datasets)
    metadata["extra"]["groups"] = group_count

    episodes = _numbered_groups(file, EPISODE_NAME)
    if not episodes:
        for _, child in _member_groups(file):
            episodes = _numbered_groups(child, EPISODE_NAME)
            if episodes:
                break
    if episodes:
        actions = [_episode_actions(group) for _, group in episodes]
        if all(action is not None for action in actions):
            set_episode_frames(metadata, [_first_dimension(a) for a in actions])
            metadata["action_dim"] = _step_width(actions[0])
        else:
            metadata["episodes"] = len(episodes)

    _add_attribute_hints(metadata, file, _member(file, "data"))
    return metadata


def _member(group: Any, name: str) -> h5py.Group | h5py.Dataset | None:
    """Return the member ``name`` of ``group`` without following external links.

    Returns None when the member is absent, is an external link, or is a
    dangling soft link.
    """
    if not isinstance(group, h5py.Group):
        return None

    link = group.get(name, getlink=True)
    if link is None or isinstance(link, h5py.ExternalLink):
        return None
    return group.get(name)


def _member_groups(group: h5py.Group) -> list[tuple[str, h5py.Group]]:
    """Return the subgroups of ``group`` reached through internal links."""
    members = ((name, _member(group, name)) for name in group.keys())
    return [(name, item) for name, item in members if isinstance(item, h5py.Group)]


def _numbered_groups(
    group: h5py.Group, pattern: re.Pattern[str]
) -> list[tuple[str, h5py.Group]]:
    """Return subgroups whose names match ``pattern``, by their number."""
    numbered = []
    for name in group.keys():
        match = pattern.match(name)
        if match is None:
            continue
        item = _member(group, name)
        if isinstance(item, h5py.Group):
            numbered.append((int(match.group(1)), name, item))
    numbered.sort(key=lambda entry: entry[0])
    return [(name, item) for _, name, item in numbered]


def _episode_length(demo: h5py.Group) -> int:
    """Return the number of steps of one demo group.

    The ``actions`` dataset decides. Without it, robomimic's ``num_samples``
    attribute does, and then the first dataset found.
    """
    actions = _member(demo, "actions")
    if isinstance(actions, h5py.Dataset):
        return _first_dimension(actions)

    num_samples = _read_attribute(demo, "num_samples")
    if isinstance(num_samples, int):
        return num_samples

    for name in demo.keys():
        item = _member(demo, name)
        if isinstance(item, h5py.Dataset):
            return _first_dimension(item)
    return 0


def _episode_actions(group: h5py.Group) -> h5py.Dataset | None:
    """Return the ``action`` or ``actions`` dataset of an episode group."""
    for name in ("actions", "action"):
        item = _member(group, name)
        if isinstance(item, h5py.Dataset):
            return item
    return None


def _shape(dataset: h5py.Dataset) -> tuple[int, ...]:
    """Return the dataset's shape, with ``()`` for an empty dataspace."""
    return tuple(int(size) for size in (dataset.shape or ()))


def _first_dimension(dataset: Any) -> int:
    """Return the number of rows of a dataset, 0 for a scalar or missing one."""
    if not isinstance(dataset, h5py.Dataset):
        return 0
    shape = _shape(dataset)
    return shape[0] if shape else 0


def _step_width(dataset: Any) -> int | None:
    """Return the width of one step of a (steps,) or (steps, width) dataset."""
    if not isinstance(dataset, h5py.Dataset):
        return None
    shape = _shape(dataset)
    if len(shape) == 1:
        return 1
    if len(shape) == 2:
        return shape[1]
    return None


def _low_dim_width(group: Any) -> int | None:
    """Sum the step widths of the low-dimensional datasets directly in ``group``.

    Datasets with more than two dimensions (images, depth maps, point clouds)
    are left out, and so are subgroups such as ALOHA's ``images``.
    """
    if not isinstance(group, h5py.Group):
        return None

    widths = [_step_width(_member(group, name)) for name in group.keys()]
    known = [width for width in widths if width is not None]
    return sum(known) if known else None


def _list_keys(group: h5py.Group, *, per_frame: bool) -> list[KeyInfo]:
    """List the datasets under ``group``, named relative to it."""
    keys: list[KeyInfo] = []

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset) and len(keys) < KEYS_LIMIT:
            keys.append(_key_info(name, item, per_frame=per_frame))

    group.visititems(visit)
    return keys


def _key_info(name: str, dataset: h5py.Dataset, *, per_frame: bool) -> KeyInfo:
    """Describe one dataset; ``per_frame`` drops the leading time axis."""
    shape = list(_shape(dataset))
    if per_frame:
        shape = shape[1:]
    return {"name": name, "shape": shape, "dtype": _dtype_name(dataset.dtype)}


def _dtype_name(dtype: np.dtype) -> str:
    """Name a dataset's dtype the way NumPy does, with ``string`` for text."""
    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    return str(dtype)


def _attribute_value(value: Any) -> Any:
    """Convert an HDF5 attribute value to a JSON-safe Python value.

    Arrays of more than 16 items and unsupported types become None.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value[:ATTRIBUTE_TEXT_LIMIT]
    if isinstance(value, np.ndarray):
        if value.size > 16:
            return None
        return [_attribute_value(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float):
        return value
    return None


def _read_attribute(group: h5py.Group, name: str) -> Any:
    """Read one attribute as a JSON-safe value, or None when absent or unreadable.

    Attributes of types h5py cannot convert (object references, some compound
    types) count as absent rather than as damage to the file.
    """
    try:
        return _attribute_value(group.attrs.get(name))
    except (OSError, TypeError, ValueError) as error:
        logger.warning("Attribute %s of %s is unreadable: %s", name, group.name, error)
        return None


def _json_attribute(group: h5py.Group, name: str) -> Any:
    """Parse a JSON text attribute, returning None when absent or invalid."""
    try:
        raw = group.attrs.get(name)
    except (OSError, TypeError, ValueError) as error:
        logger.warning("Attribute %s of %s is unreadable: %s", name, group.name, error)
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        return None

    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        logger.warning(
            "Attribute %s of %s is not valid JSON: %s", name, group.name, error
        )
        return None


def _positive_number(value: Any) -> float | None:
    """Return ``value`` as a float when it is a positive number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 else None


def _add_attribute_hints(metadata: DatasetMetadata, file: h5py.File, data: Any) -> None:
    """Record root and ``data`` attributes, and take robot and env hints from them."""
    attributes: dict[str, dict[str, Any]] = {}
    groups = [("/", file)]
    if isinstance(data, h5py.Group):
        groups.append(("/data", data))

    for label, group in groups:
        values = {}
        for name in group.attrs.keys():
            # env_args and env_info are parsed separately, so their raw JSON is left out.
            if name in ("env_args", "env_info"):
                continue
            value = _read_attribute(group, name)
            if value is not None:
                values[name] = value
        if values:
            attributes[label] = values

        for name in ROBOT_ATTRIBUTES:
            if metadata["robot"] is None and name in group.attrs:
                metadata["robot"] = clean_robot_name(_read_attribute(group, name))
        for name in ENV_ATTRIBUTES:
            if metadata["extra"].get("env") is None and name in group.attrs:
                metadata["extra"]["env"] = _read_attribute(group, name)

    if attributes:
        metadata["extra"]["attributes"] = attributes
