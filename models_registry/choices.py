"""Choices of the model registry."""

from django.db import models


class ModelStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    VALIDATED = "validated", "Validated"
    DEPLOYED = "deployed", "Deployed"
    RETIRED = "retired", "Retired"


class EvaluationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
