"""Fixtures for the inspection tests: paths to recorded files and archives of them.

The inspection library imports nothing from Django, so the suite-wide autouse
fixtures that prepare Django storage, caches and password hashing are replaced
here by no-ops. The tests then also run with the Django plugin disabled
(``-p no:django``).
"""

from pathlib import Path

import pytest

from .builders import tar_folder, zip_folder

LEROBOT_FOLDER = "lerobot_v2.1/unitree_g1_pick_bottle"
ROSBAG2_SQLITE3_FOLDER = "rosbag2_sqlite3/tf_example"
ROSBAG2_MCAP_FOLDER = "rosbag2_mcap/talker"


@pytest.fixture(autouse=True)
def _storage_root():
    """Replace the Django storage fixture: these tests use no storage."""


@pytest.fixture(autouse=True)
def _fast_password_hasher():
    """Replace the Django password hasher fixture: these tests hash nothing."""


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    """Replace the Django cache fixture: these tests use no cache."""


@pytest.fixture
def lerobot_zip(recorded_data: Path, tmp_path: Path) -> Path:
    """The recorded LeRobot v2.1 dataset zipped inside its own folder."""
    return zip_folder(
        recorded_data / LEROBOT_FOLDER,
        tmp_path / "unitree_g1_pick_bottle.zip",
        prefix="unitree_g1_pick_bottle/",
    )


@pytest.fixture
def rosbag2_sqlite3_tar(recorded_data: Path, tmp_path: Path) -> Path:
    """The recorded sqlite3 ROS 2 bag as a plain tar of its folder."""
    return tar_folder(
        recorded_data / ROSBAG2_SQLITE3_FOLDER,
        tmp_path / "tf_example.tar",
        arcname="tf_example",
    )


@pytest.fixture
def rosbag2_mcap_zip(recorded_data: Path, tmp_path: Path) -> Path:
    """The recorded mcap ROS 2 bag zipped with its files at the top level."""
    return zip_folder(recorded_data / ROSBAG2_MCAP_FOLDER, tmp_path / "talker.zip")
