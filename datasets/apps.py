"""App configuration of datasets: storage, signed uploads and inspection."""

from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"
    verbose_name = "Datasets"
    default_auto_field = "django.db.models.BigAutoField"
