"""Builders of synthetic dataset files and archives for the inspection tests."""

import io
import json
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from mcap.reader import make_reader
from mcap.writer import CompressionType, IndexType, Writer


def zip_folder(folder: Path, destination: Path, *, prefix: str = "") -> Path:
    """Write every file under ``folder`` to a zip, named ``prefix`` + relative path."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return destination


def tar_folder(
    folder: Path, destination: Path, *, mode: str = "w", arcname: str = ""
) -> Path:
    """Write ``folder`` to a tar archive; ``mode`` picks the compression."""
    with tarfile.open(destination, mode) as archive:
        archive.add(folder, arcname=arcname or ".")
    return destination


def write_robomimic(
    path: Path, lengths: list[int], *, with_images: bool = True
) -> Path:
    """Write a robomimic-layout file with one demo per entry of ``lengths``.

    Low-dimensional observations are 3 + 4 + 2 = 9 wide; actions are 7 wide.
    """
    env_args = {
        "env_name": "Lift",
        "type": 1,
        "env_kwargs": {
            "robots": ["Panda"],
            "control_freq": 20,
            "controller_configs": {"type": "OSC_POSE"},
        },
    }
    with h5py.File(path, "w") as file:
        data = file.create_group("data")
        data.attrs["env_args"] = json.dumps(env_args)
        data.attrs["total"] = sum(lengths)
        for index, length in enumerate(lengths):
            demo = data.create_group(f"demo_{index}")
            demo.attrs["num_samples"] = length
            demo.create_dataset("actions", data=np.zeros((length, 7)))
            demo.create_dataset("rewards", data=np.zeros(length))
            demo.create_dataset("dones", data=np.zeros(length, dtype=np.int64))
            demo.create_dataset("states", data=np.zeros((length, 32)))
            obs = demo.create_group("obs")
            obs.create_dataset("robot0_eef_pos", data=np.zeros((length, 3)))
            obs.create_dataset("robot0_eef_quat", data=np.zeros((length, 4)))
            obs.create_dataset("robot0_gripper_qpos", data=np.zeros((length, 2)))
            if with_images:
                obs.create_dataset(
                    "agentview_image", shape=(length, 84, 84, 3), dtype=np.uint8
                )
        mask = file.create_group("mask")
        mask.create_dataset("train", data=np.array([b"demo_0"]))
        mask.create_dataset("valid", data=np.array([b"demo_1"]))
    return path


def write_aloha(path: Path, frames: int) -> Path:
    """Write one ALOHA/ACT episode: 14-wide action, qpos, qvel and effort."""
    with h5py.File(path, "w") as file:
        file.attrs["sim"] = True
        file.create_dataset("action", data=np.zeros((frames, 14), dtype=np.float32))
        observations = file.create_group("observations")
        for name in ("qpos", "qvel", "effort"):
            observations.create_dataset(name, data=np.zeros((frames, 14)))
        images = observations.create_group("images")
        for camera in ("top", "left_wrist"):
            images.create_dataset(camera, shape=(frames, 48, 64, 3), dtype=np.uint8)
    return path


def write_lerobot_v3(
    folder: Path, episode_lengths: list[list[int]], *, declared_episodes: int
) -> Path:
    """Write a LeRobot v3.0 dataset with one data file per list of episode lengths.

    ``episode_lengths[f]`` lists the lengths of the episodes packed into
    data/chunk-000/file-00f.parquet. info.json declares ``declared_episodes``
    episodes and the frames of all files written.
    """
    (folder / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (folder / "data" / "chunk-000").mkdir(parents=True)

    features = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": None},
        "observation.environment_state": {
            "dtype": "float32",
            "shape": [4],
            "names": None,
        },
        "action": {"dtype": "float32", "shape": [6], "names": None},
        "observation.images.front": {
            "dtype": "video",
            "shape": [480, 640, 3],
            "names": ["height", "width", "channel"],
        },
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    total_frames = sum(sum(lengths) for lengths in episode_lengths)
    info = {
        "codebase_version": "v3.0",
        "robot_type": "so100",
        "total_episodes": declared_episodes,
        "total_frames": total_frames,
        "total_tasks": 1,
        "chunks_size": 1000,
        "fps": 10,
        "splits": {"train": f"0:{declared_episodes}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": (
            "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
        ),
        "features": features,
    }
    (folder / "meta" / "info.json").write_text(json.dumps(info))

    episode_rows: dict[str, list[int]] = {
        "episode_index": [],
        "length": [],
        "data/chunk_index": [],
        "data/file_index": [],
    }
    episode_index = 0
    for file_index, lengths in enumerate(episode_lengths):
        frame_episodes = []
        for length in lengths:
            frame_episodes += [episode_index] * length
            episode_rows["episode_index"].append(episode_index)
            episode_rows["length"].append(length)
            episode_rows["data/chunk_index"].append(0)
            episode_rows["data/file_index"].append(file_index)
            episode_index += 1
        frames = len(frame_episodes)
        table = pa.table(
            {
                "observation.state": pa.array(
                    [[0.0] * 6] * frames, pa.list_(pa.float32())
                ),
                "action": pa.array([[0.0] * 6] * frames, pa.list_(pa.float32())),
                "episode_index": pa.array(frame_episodes, pa.int64()),
            }
        )
        pq.write_table(
            table, folder / "data" / "chunk-000" / f"file-{file_index:03d}.parquet"
        )

    pq.write_table(
        pa.table(episode_rows),
        folder / "meta" / "episodes" / "chunk-000" / "file-000.parquet",
    )
    pq.write_table(
        pa.table({"task_index": [0], "__index_level_0__": ["Pick the cube."]}),
        folder / "meta" / "tasks.parquet",
    )
    return folder


def rewrite_mcap_without_summary(source: Path, destination: Path) -> Path:
    """Copy an MCAP file's messages into a new file that has no summary section.

    Schemas and channels are copied when a message first uses them, so
    channels without messages are left out.
    """
    with open(source, "rb") as input_stream, open(destination, "wb") as output_stream:
        reader = make_reader(input_stream)
        header = reader.get_header()
        writer = Writer(
            output_stream,
            compression=CompressionType.NONE,
            index_types=IndexType.NONE,
            repeat_channels=False,
            repeat_schemas=False,
            use_statistics=False,
            use_summary_offsets=False,
        )
        writer.start(profile=header.profile, library=header.library)
        schema_ids: dict[int, int] = {}
        channel_ids: dict[int, int] = {}
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            if schema is not None and schema.id not in schema_ids:
                schema_ids[schema.id] = writer.register_schema(
                    schema.name, schema.encoding, schema.data
                )
            if channel.id not in channel_ids:
                channel_ids[channel.id] = writer.register_channel(
                    channel.topic,
                    channel.message_encoding,
                    schema_ids.get(channel.schema_id, 0),
                    channel.metadata,
                )
            writer.add_message(
                channel_ids[channel.id],
                message.log_time,
                message.data,
                message.publish_time,
                message.sequence,
            )
        writer.finish()
    return destination


class CountingReader(io.RawIOBase):
    """A read-only file object that counts the bytes read through it."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readinto(self, buffer: bytearray) -> int:
        count = self.raw.readinto(buffer)
        self.bytes_read += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True
