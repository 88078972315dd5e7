"""App configuration of organisations, users, memberships and tokens."""

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organisations and access"
    default_auto_field = "django.db.models.BigAutoField"
