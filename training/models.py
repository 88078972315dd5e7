"""The TrainingJob model and its state machine."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from centeros.errors import Conflict
from orgs.querysets import OrgScopedManager
from training.choices import JobMode, JobStatus


def new_job_id() -> str:
    """Return a job id: 12 random hex characters."""
    return secrets.token_hex(6)


class TrainingJob(models.Model):
    """A training or fine-tuning run on one or more ready datasets.

    Status moves ``pending`` → ``queued`` → ``running`` → ``succeeded`` |
    ``failed`` | ``cancelled``; pending, queued and running jobs can be
    cancelled. ``metrics`` keeps one entry per epoch as the trainer reports.
    """

    ALLOWED_TRANSITIONS = {
        JobStatus.PENDING: {JobStatus.QUEUED, JobStatus.CANCELLED},
        JobStatus.QUEUED: {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED},
        JobStatus.RUNNING: {
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        },
        JobStatus.SUCCEEDED: set(),
        JobStatus.FAILED: set(),
        JobStatus.CANCELLED: set(),
    }

    id = models.CharField(
        primary_key=True, max_length=12, default=new_job_id, editable=False
    )
    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="training_jobs"
    )
    name = models.CharField(max_length=200)
    model_type = models.CharField(max_length=64, default="bc_mlp")
    mode = models.CharField(
        max_length=16, choices=JobMode.choices, default=JobMode.TRAIN
    )
    base_model = models.CharField(max_length=100, blank=True)
    datasets = models.ManyToManyField("datasets.Dataset", related_name="training_jobs")
    hyperparameters = models.JSONField(default=dict, blank=True)
    compute = models.JSONField(default=dict, blank=True)
    executor = models.CharField(max_length=16, default="local")
    status = models.CharField(
        max_length=16,
        choices=JobStatus.choices,
        default=JobStatus.PENDING,
        db_index=True,
    )
    progress = models.FloatField(default=0.0)
    current_epoch = models.IntegerField(default=0)
    total_epochs = models.IntegerField(null=True, blank=True)
    metrics = models.JSONField(default=list, blank=True)
    latest_metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    logs = models.TextField(blank=True, help_text="The last lines of the trainer log.")
    artifact_key = models.CharField(max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def transition_to(self, target: str) -> None:
        """Move to ``target``, stamping its time, or raise Conflict."""
        if target not in self.ALLOWED_TRANSITIONS.get(self.status, set()):
            raise Conflict(
                f"Training job {self.id} is {self.status}; it cannot become {target}.",
                code="invalid_transition",
            )
        self.status = target
        now = timezone.now()
        if target == JobStatus.QUEUED:
            self.queued_at = now
        elif target == JobStatus.RUNNING:
            self.started_at = now
            self.heartbeat_at = now
        elif target in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            self.finished_at = now
