"""Choices of the annotations app."""

from django.db import models


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class TaskPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class DataType(models.TextChoices):
    VIDEO = "video", "Video"
    IMAGE = "image", "Image"
    TRAJECTORY = "trajectory", "Trajectory"
    EPISODE = "episode", "Episode"
    POINT_CLOUD = "point_cloud", "Point cloud"
    TEXT = "text", "Text"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
