"""Mark delivered robot commands that were not acknowledged in time expired."""

from django.core.management.base import BaseCommand

from fleet.agent.services import robot_commands_expire


class Command(BaseCommand):
    help = (
        "Mark delivered robot commands past their acknowledgement deadline "
        "expired, and fail the deployments of expired deploy commands. Safe to "
        "run at any interval, for example every minute from cron."
    )

    def handle(self, *args, **options):
        expired = robot_commands_expire()
        self.stdout.write(f"Expired {len(expired)} robot command(s).")
