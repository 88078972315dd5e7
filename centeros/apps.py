"""App configuration of the CenterOS core: loads every app's actions."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CenterosConfig(AppConfig):
    name = "centeros"
    verbose_name = "CenterOS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Every installed app declares its actions in actions.py; importing
        # the module registers them.
        autodiscover_modules("actions")

        # Platform-wide stats read every domain app, so they register their
        # actions from a module of their own rather than the core package.
        import centeros.stats  # noqa: F401
