"""Robots, the commands sent to them, deployments and alerts."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from centeros.errors import Conflict
from fleet.choices import (
    AlertSeverity,
    AlertSource,
    AlertStatus,
    CommandKind,
    CommandStatus,
    DeploymentStatus,
    DeploymentStrategy,
    RobotMode,
    RobotStatus,
)
from orgs.querysets import OrgScopedManager


class Robot(models.Model):
    """A robot of an organisation's fleet.

    ``estopped`` holds from an emergency stop until its release. Online and
    offline are not stored: they derive from the age of the last heartbeat.
    """

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="robots"
    )
    robot_id = models.SlugField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    robot_type = models.CharField(max_length=100, blank=True)
    site = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    mode = models.CharField(
        max_length=16, choices=RobotMode.choices, default=RobotMode.NORMAL
    )
    estopped = models.BooleanField(default=False)
    estopped_at = models.DateTimeField(null=True, blank=True)
    estop_reason = models.TextField(blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    battery = models.FloatField(null=True, blank=True)
    pose = models.JSONField(default=dict, blank=True)
    software_version = models.CharField(max_length=100, blank=True)
    # What the latest heartbeat reported: whether the robot was idle (None
    # before the first heartbeat) and the model it runs, as the agent names it.
    idle = models.BooleanField(null=True, blank=True)
    reported_model_version = models.CharField(max_length=200, blank=True)
    current_model_version = models.ForeignKey(
        "models_registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    token_prefix = models.CharField(max_length=16, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["robot_id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "robot_id"], name="robot_id_unique")
        ]

    def __str__(self) -> str:
        return self.robot_id

    def heartbeat_age(self, now=None) -> float | None:
        if self.last_heartbeat_at is None:
            return None
        return ((now or timezone.now()) - self.last_heartbeat_at).total_seconds()

    def is_online(self, now=None) -> bool:
        age = self.heartbeat_age(now)
        return age is not None and age <= settings.CENTEROS_HEARTBEAT_TIMEOUT

    @property
    def status(self) -> str:
        if self.estopped:
            return RobotStatus.ESTOPPED
        if self.mode == RobotMode.MAINTENANCE:
            return RobotStatus.MAINTENANCE
        if self.mode == RobotMode.ERROR:
            return RobotStatus.ERROR
        return RobotStatus.ONLINE if self.is_online() else RobotStatus.OFFLINE

    @classmethod
    def online_cutoff(cls):
        return timezone.now() - timedelta(seconds=settings.CENTEROS_HEARTBEAT_TIMEOUT)


class RobotCommand(models.Model):
    """A command queued for a robot and what became of it."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="robot_commands"
    )
    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, related_name="commands")
    kind = models.CharField(max_length=32, choices=CommandKind.choices)
    priority = models.IntegerField(default=0, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16,
        choices=CommandStatus.choices,
        default=CommandStatus.QUEUED,
        db_index=True,
    )
    result_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-priority", "created_at", "id"]
        indexes = [models.Index(fields=["robot", "status", "-priority"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.robot} ({self.status})"


class Deployment(models.Model):
    """Delivery of a model version to a robot."""

    ALLOWED_TRANSITIONS = {
        DeploymentStatus.PENDING: {
            DeploymentStatus.IN_PROGRESS,
            DeploymentStatus.CANCELLED,
            DeploymentStatus.FAILED,
        },
        DeploymentStatus.IN_PROGRESS: {
            DeploymentStatus.SUCCEEDED,
            DeploymentStatus.FAILED,
            DeploymentStatus.CANCELLED,
        },
        DeploymentStatus.SUCCEEDED: {DeploymentStatus.ROLLED_BACK},
        DeploymentStatus.FAILED: set(),
        DeploymentStatus.CANCELLED: set(),
        DeploymentStatus.ROLLED_BACK: set(),
    }

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="deployments"
    )
    robot = models.ForeignKey(
        Robot, on_delete=models.CASCADE, related_name="deployments"
    )
    model_version = models.ForeignKey(
        "models_registry.ModelVersion",
        on_delete=models.PROTECT,
        related_name="deployments",
    )
    strategy = models.CharField(
        max_length=16,
        choices=DeploymentStrategy.choices,
        default=DeploymentStrategy.IMMEDIATE,
    )
    status = models.CharField(
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.PENDING,
        db_index=True,
    )
    command = models.ForeignKey(
        RobotCommand,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployments",
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model_version} → {self.robot} ({self.status})"

    def transition_to(self, target: str) -> None:
        if target not in self.ALLOWED_TRANSITIONS.get(self.status, set()):
            raise Conflict(
                f"Deployment {self.pk} is {self.status}; it cannot become {target}.",
                code="invalid_transition",
            )
        self.status = target
        now = timezone.now()
        if target == DeploymentStatus.IN_PROGRESS:
            self.started_at = now
        elif target != DeploymentStatus.ROLLED_BACK:
            self.finished_at = now


class Heartbeat(models.Model):
    """One heartbeat as the robot's agent sent it.

    Each robot keeps its latest ``CENTEROS_HEARTBEAT_HISTORY`` heartbeats;
    older ones are pruned when a new one arrives.
    """

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="heartbeats"
    )
    robot = models.ForeignKey(
        Robot, on_delete=models.CASCADE, related_name="heartbeats"
    )
    received_at = models.DateTimeField(default=timezone.now)
    battery = models.FloatField(null=True, blank=True)
    pose = models.JSONField(default=dict, blank=True)
    software_version = models.CharField(max_length=100, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    idle = models.BooleanField(null=True, blank=True)
    # Whether the agent reported its motion stopped by an emergency stop.
    estopped = models.BooleanField(null=True, blank=True)
    faults = models.JSONField(default=list, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["robot", "-id"])]

    def __str__(self) -> str:
        return f"heartbeat of {self.robot} at {self.received_at}"


class Alert(models.Model):
    """A problem on a robot, opened by a reported fault or by an operator."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="alerts"
    )
    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, related_name="alerts")
    code = models.CharField(max_length=100)
    # Fault alerts resolve when the agent stops reporting the fault; server
    # alerts (such as a failed emergency stop) wait for an operator.
    source = models.CharField(
        max_length=16, choices=AlertSource.choices, default=AlertSource.FAULT
    )
    severity = models.CharField(
        max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    message = models.TextField(blank=True)
    status = models.CharField(
        max_length=16,
        choices=AlertStatus.choices,
        default=AlertStatus.OPEN,
        db_index=True,
    )
    occurrences = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One unresolved alert per robot and fault code, so repeated
            # reports of the same fault update it instead of piling up.
            models.UniqueConstraint(
                fields=["robot", "code"],
                condition=~models.Q(status="resolved"),
                name="alert_one_open_per_code",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.robot} ({self.severity})"
