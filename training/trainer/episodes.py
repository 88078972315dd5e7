"""Episode readers that turn dataset files into (observation, action) arrays.

Readers yield one episode at a time and read only low-dimensional arrays.
Image datasets are recognised from their shape in the file's metadata and
never loaded. Supported layouts:

- robomimic HDF5: ``data/demo_N/actions`` with ``data/demo_N/obs/<key>``.
  The observation concatenates the low-dimensional keys in sorted key order.
  A key is low-dimensional when its dataset has one or two dimensions.
- robosuite raw HDF5: ``data/demo_N/actions`` with ``data/demo_N/states``.
- ALOHA/ACT HDF5: ``observations/qpos`` with ``action``, one episode per file.
- LeRobot v2 and v3 folders: ``meta/info.json`` with parquet files under
  ``data/``, columns ``observation.state`` and ``action``.
"""

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from training.trainer import TrainerError

logger = logging.getLogger(__name__)

FILE_TYPES = ("hdf5", "lerobot")

LEROBOT_STATE_COLUMN = "observation.state"
LEROBOT_ACTION_COLUMN = "action"
LEROBOT_EPISODE_COLUMN = "episode_index"


@dataclass(frozen=True)
class Episode:
    """One demonstration: per-step observations and the actions taken."""

    source: str
    observation_keys: tuple[str, ...]
    observations: np.ndarray
    actions: np.ndarray

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])


def iter_episodes(path: Path, file_type: str) -> Iterator[Episode]:
    """Yield the episodes of one dataset file or folder, one at a time."""
    if file_type == "hdf5":
        yield from iter_hdf5_episodes(path)
    elif file_type == "lerobot":
        yield from iter_lerobot_episodes(path)
    else:
        raise TrainerError(
            f"Dataset file type {file_type!r} is not supported; use one of "
            f"{', '.join(FILE_TYPES)}."
        )


def iter_hdf5_episodes(path: Path) -> Iterator[Episode]:
    """Yield the episodes of a robomimic, robosuite or ALOHA HDF5 file."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise TrainerError(
            f"Dataset {path.name} could not be opened as HDF5 ({error}); "
            "check that the file is a complete HDF5 upload."
        ) from error

    with handle:
        if isinstance(handle.get("data"), h5py.Group):
            yield from _iter_demo_group(path, handle["data"])
        elif isinstance(handle.get("observations"), h5py.Group) and isinstance(
            handle.get("action"), h5py.Dataset
        ):
            yield _read_aloha_episode(path, handle)
        else:
            raise TrainerError(
                f"Dataset {path.name} has no HDF5 layout that the built-in trainer "
                "reads: expected data/demo_N/{actions, obs/*} (robomimic), "
                "data/demo_N/{actions, states} (robosuite) or observations/qpos "
                "with action (ALOHA)."
            )


def iter_lerobot_episodes(path: Path) -> Iterator[Episode]:
    """Yield the episodes of a LeRobot dataset folder, one parquet file at a time.

    LeRobot v2.x stores one episode per file and v3.0 stores several per file,
    so rows are grouped by ``episode_index`` when that column is present.
    """
    info = _read_lerobot_info(path)
    features = info.get("features", {})
    for column in (LEROBOT_STATE_COLUMN, LEROBOT_ACTION_COLUMN):
        if column not in features:
            raise TrainerError(
                f"LeRobot dataset {path.name} declares no '{column}' feature in "
                "meta/info.json; the built-in trainer needs observation.state "
                "and action."
            )

    files = sorted((path / "data").glob("chunk-*/*.parquet"))
    if not files:
        raise TrainerError(
            f"LeRobot dataset {path.name} has no parquet files under "
            "data/chunk-*/; upload the episodes' data files."
        )

    found = 0
    for file in files:
        for episode in _read_lerobot_file(path, file):
            found += 1
            yield episode

    declared = info.get("total_episodes")
    if isinstance(declared, int) and declared != found:
        logger.warning(
            "LeRobot dataset %s declares %d episodes but %d are present; "
            "training uses the present ones",
            path.name,
            declared,
            found,
        )


def _iter_demo_group(path: Path, data: h5py.Group) -> Iterator[Episode]:
    names = sorted(data.keys(), key=_natural_key)
    demos = [name for name in names if isinstance(data[name], h5py.Group)]
    if not demos:
        raise TrainerError(
            f"Dataset {path.name} has a 'data' group without demo groups; "
            "expected data/demo_N/."
        )

    for name in demos:
        demo = data[name]
        source = f"{path.name}:data/{name}"
        actions = _read_numeric(demo, "actions", source)
        if isinstance(demo.get("obs"), h5py.Group):
            keys, observations = _read_robomimic_obs(demo["obs"], source)
        elif isinstance(demo.get("states"), h5py.Dataset):
            keys = ("states",)
            observations = _read_numeric(demo, "states", source)
        else:
            raise TrainerError(
                f"Episode {source} has neither obs/ nor states; the built-in "
                "trainer needs low-dimensional observations."
            )
        yield _make_episode(source, keys, observations, actions)


def _read_robomimic_obs(
    obs: h5py.Group, source: str
) -> tuple[tuple[str, ...], np.ndarray]:
    keys: list[str] = []
    arrays: list[np.ndarray] = []
    for key in sorted(obs.keys()):
        item = obs[key]
        if not isinstance(item, h5py.Dataset):
            continue

        # Images are (T, H, W, C) and depth maps (T, H, W): only the shape in
        # the metadata is checked, so their pixels are never read.
        if item.ndim > 2:
            logger.debug("Skipping image observation %s/obs/%s", source, key)
            continue
        if item.ndim == 0:
            logger.warning("Skipping scalar observation %s/obs/%s", source, key)
            continue
        if item.dtype.kind not in "biuf":
            logger.warning(
                "Skipping non-numeric observation %s/obs/%s (%s)",
                source,
                key,
                item.dtype,
            )
            continue

        array = np.asarray(item[()], dtype=np.float64)
        keys.append(key)
        arrays.append(array.reshape(array.shape[0], -1))

    if not arrays:
        raise TrainerError(
            f"Episode {source} has no low-dimensional observation keys under "
            "obs/ (only images or non-numeric data); the built-in trainer "
            "needs at least one."
        )

    lengths = {array.shape[0] for array in arrays}
    if len(lengths) != 1:
        raise TrainerError(
            f"Episode {source} has observation keys of different lengths "
            f"{sorted(lengths)}; each key needs one row per step."
        )
    return tuple(keys), np.concatenate(arrays, axis=1)


def _read_aloha_episode(path: Path, handle: h5py.File) -> Episode:
    source = path.name
    observations = _read_numeric(handle["observations"], "qpos", source)
    actions = _read_numeric(handle, "action", source)
    return _make_episode(source, ("observations/qpos",), observations, actions)


def _read_numeric(group: h5py.Group, key: str, source: str) -> np.ndarray:
    item = group.get(key)
    if not isinstance(item, h5py.Dataset):
        raise TrainerError(f"Episode {source} has no '{key}' dataset.")
    if item.dtype.kind not in "biuf":
        raise TrainerError(
            f"Episode {source} stores '{key}' as {item.dtype}, not numbers."
        )
    if item.ndim not in (1, 2):
        raise TrainerError(
            f"Episode {source} stores '{key}' with shape {item.shape}; the "
            "built-in trainer needs one row of numbers per step."
        )
    return np.asarray(item[()], dtype=np.float64)


def _make_episode(
    source: str,
    keys: tuple[str, ...],
    observations: np.ndarray,
    actions: np.ndarray,
) -> Episode:
    observations = observations.reshape(observations.shape[0], -1)
    actions = actions.reshape(actions.shape[0], -1)
    if observations.shape[0] != actions.shape[0]:
        raise TrainerError(
            f"Episode {source} has {observations.shape[0]} observation steps but "
            f"{actions.shape[0]} actions; they must match one to one."
        )
    if not (np.isfinite(observations).all() and np.isfinite(actions).all()):
        raise TrainerError(
            f"Episode {source} contains NaN or infinite values; clean the "
            "recording or leave the episode out."
        )
    return Episode(source, keys, observations, actions)


def _read_lerobot_info(path: Path) -> dict:
    info_path = path / "meta" / "info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainerError(
            f"LeRobot dataset {path.name} has no meta/info.json; upload the whole "
            "dataset folder."
        )
    except (OSError, json.JSONDecodeError) as error:
        raise TrainerError(
            f"LeRobot dataset {path.name} has an unreadable meta/info.json ({error})."
        ) from error
    if not isinstance(info, dict):
        raise TrainerError(
            f"LeRobot dataset {path.name} has a meta/info.json that is not a JSON "
            "object."
        )
    return info


def _read_lerobot_file(root: Path, file: Path) -> Iterator[Episode]:
    relative = file.relative_to(root).as_posix()
    try:
        schema = pq.read_schema(file)
        columns = [LEROBOT_STATE_COLUMN, LEROBOT_ACTION_COLUMN]
        if LEROBOT_EPISODE_COLUMN in schema.names:
            columns.append(LEROBOT_EPISODE_COLUMN)
        missing = [name for name in columns if name not in schema.names]
        if missing:
            raise TrainerError(
                f"LeRobot file {root.name}/{relative} has no column "
                f"{', '.join(missing)}."
            )
        table = pq.read_table(file, columns=columns)
    except (OSError, pa.ArrowException) as error:
        raise TrainerError(
            f"LeRobot file {root.name}/{relative} could not be read as parquet "
            f"({error})."
        ) from error

    observations = _list_column_to_array(table, LEROBOT_STATE_COLUMN, relative)
    actions = _list_column_to_array(table, LEROBOT_ACTION_COLUMN, relative)
    if LEROBOT_EPISODE_COLUMN not in table.column_names:
        yield _make_episode(
            f"{root.name}/{relative}",
            (LEROBOT_STATE_COLUMN,),
            observations,
            actions,
        )
        return

    # Rows of one episode are contiguous in LeRobot files, but grouping by
    # value keeps the reader correct if they are not.
    episode_index = table.column(LEROBOT_EPISODE_COLUMN).to_numpy()
    for index in np.unique(episode_index):
        rows = episode_index == index
        yield _make_episode(
            f"{root.name}/{relative}:episode_{int(index)}",
            (LEROBOT_STATE_COLUMN,),
            observations[rows],
            actions[rows],
        )


def _list_column_to_array(table: pa.Table, name: str, relative: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    if column.null_count:
        raise TrainerError(
            f"LeRobot file {relative} has {column.null_count} rows without "
            f"'{name}'; every frame needs a state and an action."
        )
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
        values = column.flatten().to_numpy(zero_copy_only=False)
        return values.astype(np.float64).reshape(-1, width)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        rows = column.to_pylist()
        widths = {len(row) for row in rows}
        if len(widths) > 1:
            raise TrainerError(
                f"LeRobot file {relative} has rows of '{name}' with different "
                f"lengths {sorted(widths)}."
            )
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float64)[:, None]
    raise TrainerError(
        f"LeRobot file {relative} stores '{name}' as {column.type}, not a list "
        "of numbers."
    )


def _natural_key(name: str) -> list:
    # demo_2 sorts before demo_10, as the demos were recorded.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
