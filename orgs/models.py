"""Users, organisations, memberships with roles, and personal access tokens."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from centeros.scopes import Role


class User(AbstractUser):
    """A person who signs in to CenterOS; superusers are platform superadmins."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="orgs_user_email_unique_ci",
            )
        ]


class Organization(models.Model):
    """A team that owns datasets, jobs, models, robots and annotation work."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    require_passing_evaluation = models.BooleanField(
        default=False,
        help_text="Require a passing evaluation before a model version is validated.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "organisation"

    def __str__(self) -> str:
        return self.name


class RoleChoices(models.TextChoices):
    ADMIN = Role.ADMIN, "Admin"
    OPERATOR = Role.OPERATOR, "Operator"
    ANNOTATOR = Role.ANNOTATOR, "Annotator"
    VIEWER = Role.VIEWER, "Viewer"


class Membership(models.Model):
    """A user's role in one organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=RoleChoices.choices)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["org", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "org"], name="orgs_membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"


class PersonalAccessTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class PersonalAccessToken(models.Model):
    """A long-lived token for scripts and agents, bound to one organisation.

    Only a keyed hash of the token and a short display prefix are stored; the
    token itself is shown once, when it is created.
    """

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="pats")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pats")
    scopes = models.JSONField(default=list)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The PAT that created this one; revoking it revokes this too.",
    )

    objects = PersonalAccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
