"""Choices of the datasets app."""

from django.db import models


class DatasetStatus(models.TextChoices):
    PENDING_UPLOAD = "pending_upload", "Pending upload"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DatasetFileType(models.TextChoices):
    HDF5 = "hdf5", "HDF5"
    LEROBOT = "lerobot", "LeRobot"
    MCAP = "mcap", "MCAP"
    ROSBAG = "rosbag", "ROS 1 bag"
    ROSBAG2 = "rosbag2", "ROS 2 bag"
    ARCHIVE = "archive", "Archive"
    OTHER = "other", "Other"
