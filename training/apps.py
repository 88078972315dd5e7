"""App configuration of training: jobs, catalog, costs and executors."""

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from datasets.services import register_deletion_guard
        from training.services import dataset_deletion_blocker

        # A dataset that a queued or running job reads must not be deleted.
        register_deletion_guard(dataset_deletion_blocker)
