"""Model versions with their lifecycle, transition history and evaluations."""

from django.conf import settings
from django.db import models

from centeros.errors import Conflict, InvalidInput
from models_registry.choices import EvaluationStatus, ModelStatus
from orgs.querysets import OrgScopedManager


class ModelVersion(models.Model):
    """One version of a named model in an organisation's registry.

    Versions number 1, 2, 3 per name and organisation. Status moves
    ``draft`` → ``validated`` → ``deployed`` → ``retired``, and ``validated``
    may go straight to ``retired``; nothing moves backwards or skips.
    """

    ALLOWED_TRANSITIONS = {
        ModelStatus.DRAFT: {ModelStatus.VALIDATED},
        ModelStatus.VALIDATED: {ModelStatus.DEPLOYED, ModelStatus.RETIRED},
        ModelStatus.DEPLOYED: {ModelStatus.RETIRED},
        ModelStatus.RETIRED: set(),
    }

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="model_versions"
    )
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16,
        choices=ModelStatus.choices,
        default=ModelStatus.DRAFT,
        db_index=True,
    )
    description = models.TextField(blank=True)
    model_type = models.CharField(max_length=64, blank=True)
    training_job = models.ForeignKey(
        "training.TrainingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
    )
    artifact_uri = models.CharField(max_length=1000, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
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
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name", "version"], name="model_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def check_transition(self, target: str) -> None:
        """Raise InvalidInput for an unknown target, Conflict for a bad move."""
        if target not in ModelStatus.values:
            raise InvalidInput(
                f"Unknown status {target!r}; use one of {', '.join(ModelStatus.values)}.",
                errors={"target_status": [f"Unknown status {target!r}."]},
            )
        if target not in self.ALLOWED_TRANSITIONS[self.status]:
            allowed = sorted(self.ALLOWED_TRANSITIONS[self.status]) or ["none"]
            raise Conflict(
                f"Model {self.name} v{self.version} is {self.status}; it cannot "
                f"become {target} (allowed next: {', '.join(allowed)}).",
                code="invalid_transition",
            )

    def transition_to(self, target: str) -> None:
        """Move to ``target`` or raise as :meth:`check_transition` does.

        The caller saves the version and records the ModelTransition.
        """
        self.check_transition(target)
        self.status = target


class ModelTransition(models.Model):
    """One recorded status change of a model version."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="transitions"
    )
    from_status = models.CharField(max_length=16, choices=ModelStatus.choices)
    to_status = models.CharField(max_length=16, choices=ModelStatus.choices)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.model_version}: {self.from_status} → {self.to_status}"


class Evaluation(models.Model):
    """An evaluation of a model version, with its metrics and verdict.

    Status moves ``pending`` → ``completed`` | ``failed``. A finished
    evaluation keeps its result and cannot be recorded again.
    """

    ALLOWED_TRANSITIONS = {
        EvaluationStatus.PENDING: {EvaluationStatus.COMPLETED, EvaluationStatus.FAILED},
        EvaluationStatus.COMPLETED: set(),
        EvaluationStatus.FAILED: set(),
    }

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="evaluations"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluations"
    )
    name = models.CharField(max_length=200)
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="evaluations",
    )
    environment = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16,
        choices=EvaluationStatus.choices,
        default=EvaluationStatus.PENDING,
        db_index=True,
    )
    metrics = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} of {self.model_version}"

    def transition_to(self, target: str) -> None:
        """Move to ``target`` or raise Conflict when the move is not allowed."""
        if target not in self.ALLOWED_TRANSITIONS.get(self.status, set()):
            raise Conflict(
                f"Evaluation {self.pk} is {self.status}, so it cannot become {target}. "
                "Create a new evaluation to record another result.",
                code="invalid_transition",
            )
        self.status = target
