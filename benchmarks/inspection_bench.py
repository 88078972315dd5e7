"""Time inspect_file on large synthetic HDF5 and MCAP files.

Builds a robomimic-layout HDF5 file and two chunked MCAP files, one with a
summary section and one without, in a temporary directory. Each file is
inspected several times, and the script prints the time taken and the bytes
read against the file size. The files are removed
afterwards unless --keep is given.

    .venv/bin/python benchmarks/inspection_bench.py  # 1 GiB each
    .venv/bin/python benchmarks/inspection_bench.py --size-mib 256

docs/benchmarks-inspection.md explains the figures.
"""

import argparse
import functools
import io
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
from mcap.writer import CompressionType, IndexType, Writer

from datasets.inspection import inspect_file

MIB = 1024 * 1024

# Each HDF5 demo contains 500 steps of an 84x84 RGB camera (about 10 MiB) plus
# low-dimensional observations and actions, like robomimic's image datasets.
HDF5_STEPS_PER_DEMO = 500
HDF5_IMAGE_SHAPE = (84, 84, 3)

# Each MCAP second contains one 1 MiB point cloud and 100 small joint states.
MCAP_CLOUD_BYTES = MIB
MCAP_STATES_PER_CLOUD = 100


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


def build_hdf5(path: Path, size_bytes: int) -> None:
    """Write a robomimic-layout file whose camera data totals ``size_bytes``."""
    image_bytes_per_demo = HDF5_STEPS_PER_DEMO * int(np.prod(HDF5_IMAGE_SHAPE))
    demos = max(1, size_bytes // image_bytes_per_demo)
    frames = np.zeros((HDF5_STEPS_PER_DEMO, *HDF5_IMAGE_SHAPE), dtype=np.uint8)

    with h5py.File(path, "w") as file:
        data = file.create_group("data")
        data.attrs["env_args"] = (
            '{"env_name": "Lift", "type": 1, "env_kwargs": '
            '{"robots": ["Panda"], "control_freq": 20}}'
        )
        for index in range(demos):
            demo = data.create_group(f"demo_{index}")
            demo.create_dataset("actions", data=np.zeros((HDF5_STEPS_PER_DEMO, 7)))
            demo.create_dataset(
                "obs/robot0_eef_pos", data=np.zeros((HDF5_STEPS_PER_DEMO, 3))
            )
            # Writing the zeros explicitly allocates every chunk, so the file
            # really has the requested size on disk.
            demo.create_dataset(
                "obs/agentview_image",
                data=frames,
                chunks=(50, *HDF5_IMAGE_SHAPE),
            )


def build_mcap(path: Path, size_bytes: int, *, summary: bool = True) -> None:
    """Write an uncompressed, chunked MCAP file of about ``size_bytes``.

    With ``summary=False`` the file has no summary section, as written by
    recorders that stream without an index, so inspection must scan it.
    """
    cloud = os.urandom(MCAP_CLOUD_BYTES)
    state = os.urandom(200)
    clouds = max(1, size_bytes // MCAP_CLOUD_BYTES)

    with open(path, "wb") as stream:
        writer = Writer(
            stream,
            chunk_size=4 * MIB,
            compression=CompressionType.NONE,
            index_types=IndexType.ALL if summary else IndexType.NONE,
            repeat_channels=summary,
            repeat_schemas=summary,
            use_statistics=summary,
            use_summary_offsets=summary,
        )
        writer.start(profile="ros2", library="centeros inspection benchmark")
        cloud_schema = writer.register_schema(
            "sensor_msgs/msg/PointCloud2", "ros2msg", b""
        )
        state_schema = writer.register_schema(
            "sensor_msgs/msg/JointState", "ros2msg", b""
        )
        cloud_channel = writer.register_channel("/lidar/points", "cdr", cloud_schema)
        state_channel = writer.register_channel("/joint_states", "cdr", state_schema)

        for second in range(clouds):
            start = second * 1_000_000_000
            writer.add_message(cloud_channel, start, cloud, start)
            for step in range(MCAP_STATES_PER_CLOUD):
                stamp = start + step * 10_000_000
                writer.add_message(state_channel, stamp, state, stamp)
        writer.finish()


def measure(path: Path, repeats: int) -> tuple[list[float], int]:
    """Inspect ``path`` ``repeats`` times; return the times and bytes read once."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        inspect_file(path, filename=path.name)
        times.append(time.perf_counter() - started)

    with open(path, "rb") as raw:
        counting = CountingReader(raw)
        inspect_file(counting, filename=path.name)
    return times, counting.bytes_read


def run_case(
    name: str,
    path: Path,
    build: Callable[[Path, int], None],
    size_bytes: int,
    repeats: int,
) -> None:
    """Build one file, measure it and print one result line."""
    started = time.perf_counter()
    build(path, size_bytes)
    build_seconds = time.perf_counter() - started
    size = path.stat().st_size

    times, bytes_read = measure(path, repeats)
    print(
        f"{name:<20} {size / MIB:>10.1f} {build_seconds:>9.1f} "
        f"{min(times) * 1000:>9.1f} {statistics.median(times) * 1000:>9.1f} "
        f"{max(times) * 1000:>9.1f} {bytes_read / 1024:>11.1f} "
        f"{bytes_read / size:>10.2e}"
    )


def main() -> None:
    """Parse the options, run both cases and print the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mib",
        type=int,
        default=1024,
        help="size of each generated file in MiB (default 1024)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="number of timed inspections of each file (default 5)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="folder for the generated files (default: a new temporary folder)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated files afterwards"
    )
    options = parser.parse_args()
    if options.size_mib < 1 or options.repeats < 1:
        parser.error("--size-mib and --repeats must be at least 1")

    folder = Path(tempfile.mkdtemp(prefix="inspection-bench-", dir=options.dir))
    size_bytes = options.size_mib * MIB
    print(
        f"python {platform.python_version()}, h5py {h5py.__version__}, "
        f"{os.cpu_count()} CPUs, files in {folder}"
    )
    print(
        f"{'file':<20} {'size MiB':>10} {'build s':>9} {'min ms':>9} "
        f"{'median ms':>9} {'max ms':>9} {'read KiB':>11} {'read/size':>10}"
    )
    try:
        run_case("hdf5", folder / "bench.hdf5", build_hdf5, size_bytes, options.repeats)
        run_case("mcap", folder / "bench.mcap", build_mcap, size_bytes, options.repeats)
        run_case(
            "mcap without summary",
            folder / "bench-scan.mcap",
            functools.partial(build_mcap, summary=False),
            size_bytes,
            options.repeats,
        )
    finally:
        if not options.keep:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
