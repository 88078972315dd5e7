"""Mark running training jobs whose worker stopped reporting as failed."""

from django.conf import settings
from django.core.management.base import BaseCommand

from training.services import training_job_fail_stale


class Command(BaseCommand):
    help = (
        "Mark running training jobs failed when their worker has not reported "
        "for CENTEROS_TRAINING_STALE_SECONDS seconds. Run it from cron, or "
        "rely on the list and status actions, which run the same check."
    )

    def handle(self, *args, **options):
        failed = training_job_fail_stale()
        for job_id in failed:
            self.stdout.write(f"Marked training job {job_id} failed.")
        self.stdout.write(
            f"{len(failed)} stale training job(s) found (no heartbeat for more "
            f"than {settings.CENTEROS_TRAINING_STALE_SECONDS} seconds)."
        )
