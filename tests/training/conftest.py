"""Fixtures of the training tests: ready datasets whose files are in storage."""

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.factories import DatasetFactory

WIPE_HDF5 = Path("hdf5/robosuite_raw_wipe_panda/demo.hdf5")
PICK_BOTTLE_LEROBOT = Path("lerobot_v2.1/unitree_g1_pick_bottle")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wipe_dataset(org, recorded_data, _storage_root):
    """A ready HDF5 dataset of ``org`` whose file is the recorded Wipe demo."""
    key = f"datasets/{org.pk}/wipe/demo.hdf5"
    target = _storage_root / key
    target.parent.mkdir(parents=True)
    shutil.copyfile(recorded_data / WIPE_HDF5, target)
    return DatasetFactory(
        org=org,
        name="wipe-panda",
        file_type="hdf5",
        original_filename="demo.hdf5",
        storage_key=key,
        size_bytes=target.stat().st_size,
        sha256=_sha256(target),
        episode_count=1,
        frame_count=174,
    )


@pytest.fixture
def pick_bottle_dataset(org, recorded_data, _storage_root):
    """A ready LeRobot dataset of ``org`` stored as a zip of the recorded folder.

    The videos are left out of the archive because the trainer reads only the
    parquet data and the metadata.
    """
    source = recorded_data / PICK_BOTTLE_LEROBOT
    key = f"datasets/{org.pk}/pick_bottle/pick_bottle.zip"
    target = _storage_root / key
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source.parent)
            if path.is_file() and "videos" not in relative.parts:
                archive.write(path, relative.as_posix())
    return DatasetFactory(
        org=org,
        name="pick-bottle",
        file_type="lerobot",
        original_filename="pick_bottle.zip",
        storage_key=key,
        size_bytes=target.stat().st_size,
        sha256=_sha256(target),
        episode_count=1,
        frame_count=None,
    )
