"""Create a personal access token for a user from the command line."""

from django.core.management.base import BaseCommand, CommandError

from centeros.errors import DomainError
from orgs.models import Organization, User
from orgs.roles import role_scopes
from orgs.selectors import role_in_org
from orgs.services import pat_create


class Command(BaseCommand):
    help = "Create a personal access token for a member of an organisation."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of the owner.")
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--name", required=True, help="Name of the token.")
        parser.add_argument(
            "--scopes", default="*", help="Comma-separated scopes, or * for all."
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["user"]).first()
        org = Organization.objects.filter(slug=options["org"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        if org is None:
            raise CommandError(f"No organisation with slug {options['org']!r}.")
        role = role_in_org(user=user, org=org)
        if role is None:
            raise CommandError(f"{user.username} is not a member of {org.slug}.")

        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            pat, token = pat_create(
                owner=user,
                org=org,
                name=options["name"],
                scopes=scopes,
                expires_in_days=options["expires_in_days"],
                granted_scopes=role_scopes(role, is_superuser=user.is_superuser),
            )
        except DomainError as error:
            raise CommandError(error.detail)
        self.stdout.write(f"PAT created (id {pat.pk}, shown once): {token}")
