"""Choices of the fleet app."""

from django.db import models


class RobotStatus(models.TextChoices):
    """The status a robot shows; online and offline derive from heartbeats."""

    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    ESTOPPED = "estopped", "Emergency stopped"
    MAINTENANCE = "maintenance", "Maintenance"
    ERROR = "error", "Error"


class RobotMode(models.TextChoices):
    """The condition an operator or a reported fault sets on a robot."""

    NORMAL = "normal", "Normal"
    MAINTENANCE = "maintenance", "Maintenance"
    ERROR = "error", "Error"


class CommandKind(models.TextChoices):
    EMERGENCY_STOP = "emergency_stop", "Emergency stop"
    RELEASE_EMERGENCY_STOP = "release_emergency_stop", "Release emergency stop"
    DEPLOY = "deploy", "Deploy model"


class CommandStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DELIVERED = "delivered", "Delivered"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


# Higher runs first; an emergency stop goes ahead of everything.
COMMAND_PRIORITY = {
    CommandKind.EMERGENCY_STOP: 1000,
    CommandKind.RELEASE_EMERGENCY_STOP: 900,
    CommandKind.DEPLOY: 100,
}


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"


class DeploymentStrategy(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    ON_IDLE = "on_idle", "When the robot is idle"


class AlertSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertSource(models.TextChoices):
    FAULT = "fault", "Reported fault"
    SERVER = "server", "Raised by the server"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# Deployments that still have work ahead of them; an emergency stop cancels
# these, and a robot has at most one of them at a time.
ACTIVE_DEPLOYMENT_STATUSES = (DeploymentStatus.PENDING, DeploymentStatus.IN_PROGRESS)

# Commands the robot has not finished yet, so they can still be cancelled.
UNFINISHED_COMMAND_STATUSES = (CommandStatus.QUEUED, CommandStatus.DELIVERED)

# Alerts that still need someone: open ones and acknowledged ones being
# worked on ("open tickets").
UNRESOLVED_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
