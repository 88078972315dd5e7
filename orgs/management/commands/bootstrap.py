"""Create the first organisation, an admin user and optionally a full-scope PAT.

Running it again changes nothing that exists: the organisation, the user and
the membership are reused, and a new PAT is made only when asked for.
"""

import logging
import os
import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orgs.models import Organization, RoleChoices, User
from orgs.services import membership_set, pat_create

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Create (or reuse) an organisation, a superuser who is its admin, and "
        "optionally a full-scope personal access token, printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo", help="Organisation slug.")
        parser.add_argument("--org-name", default="Demo Lab", help="Organisation name.")
        parser.add_argument("--username", default="admin", help="Admin username.")
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument(
            "--password",
            default=None,
            help=(
                "Admin password for a new user. Default: CENTEROS_ADMIN_PASSWORD, "
                "or a random one that is printed once."
            ),
        )
        parser.add_argument(
            "--pat",
            action="store_true",
            help="Also create a full-scope PAT for the admin and print it once.",
        )
        parser.add_argument(
            "--pat-file",
            default=None,
            help="Write the new PAT to this file (mode 0600) instead of only printing it.",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        org, org_created = Organization.objects.get_or_create(
            slug=options["org"], defaults={"name": options["org_name"]}
        )
        self._report("organisation", org.slug, org_created)

        user = User.objects.filter(username=options["username"]).first()
        password = None
        if user is None:
            password = (
                options["password"]
                or os.environ.get("CENTEROS_ADMIN_PASSWORD")
                or secrets.token_urlsafe(12)
            )
            user = User.objects.create_superuser(
                username=options["username"], email=options["email"], password=password
            )
            self._report("admin user", user.username, True)
        else:
            if not user.is_superuser:
                raise CommandError(
                    f"User {user.username!r} exists but is not a superuser; choose "
                    "another --username."
                )
            self._report("admin user", user.username, False)

        membership_set(user=user, org=org, role=RoleChoices.ADMIN)

        if (
            password is not None
            and not options["password"]
            and not os.environ.get("CENTEROS_ADMIN_PASSWORD")
        ):
            self.stdout.write(f"Admin password (shown once): {password}")

        if options["pat"]:
            pat, token = pat_create(owner=user, org=org, name="bootstrap", scopes=["*"])
            if options["pat_file"]:
                descriptor = os.open(
                    options["pat_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
                )
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(token + "\n")
            self.stdout.write(f"Personal access token (shown once): {token}")
            logger.info("Bootstrap created PAT %s for user %s", pat.pk, user.pk)

    def _report(self, kind: str, name: str, created: bool) -> None:
        verb = "Created" if created else "Reusing"
        self.stdout.write(f"{verb} {kind} {name}")
