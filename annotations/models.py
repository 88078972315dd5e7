"""Annotation tasks, their state machine, and reviews."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.choices import DataType, ReviewDecision, TaskPriority, TaskStatus
from centeros.errors import Conflict
from orgs.querysets import OrgScopedManager


class AnnotationTask(models.Model):
    """A piece of annotation work, optionally on a dataset.

    Status moves ``open`` → ``in_progress`` → ``in_review`` → ``approved`` |
    ``rejected``, and ``rejected`` → ``in_progress`` for rework.
    """

    ALLOWED_TRANSITIONS = {
        TaskStatus.OPEN: {TaskStatus.IN_PROGRESS},
        TaskStatus.IN_PROGRESS: {TaskStatus.IN_REVIEW},
        TaskStatus.IN_REVIEW: {TaskStatus.APPROVED, TaskStatus.REJECTED},
        TaskStatus.REJECTED: {TaskStatus.IN_PROGRESS},
        TaskStatus.APPROVED: set(),
    }

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="annotation_tasks"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotation_tasks",
    )
    data_type = models.CharField(
        max_length=16, choices=DataType.choices, default=DataType.EPISODE
    )
    priority = models.CharField(
        max_length=16, choices=TaskPriority.choices, default=TaskPriority.MEDIUM
    )
    status = models.CharField(
        max_length=16,
        choices=TaskStatus.choices,
        default=TaskStatus.OPEN,
        db_index=True,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotation_tasks",
    )
    labels = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "status"])]

    def __str__(self) -> str:
        return self.title

    def transition_to(self, target: str) -> None:
        """Move to ``target`` or raise Conflict when the move is not allowed."""
        allowed = self.ALLOWED_TRANSITIONS.get(self.status, set())
        if target not in allowed:
            allowed_text = ", ".join(sorted(allowed)) or "nothing (final status)"
            raise Conflict(
                f"Annotation task {self.pk} is {self.status}; it cannot become "
                f"{target}. From {self.status} it can become: {allowed_text}.",
                code="invalid_transition",
            )
        self.status = target
        if target == TaskStatus.IN_REVIEW:
            self.submitted_at = timezone.now()


class AnnotationReview(models.Model):
    """A reviewer's decision on a submitted task."""

    task = models.ForeignKey(
        AnnotationTask, on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.decision} on {self.task}"
