"""Authentication of API requests by PAT or JWT access token.

Both classes produce a :class:`~centeros.actions.Principal` on
``request.auth`` whose scopes are already the effective ones. Membership and
the user's active flag are checked on every request, so removing a member or
deactivating a user takes effect at once, for PATs and for access tokens.
"""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from centeros import credentials
from centeros.actions.context import Principal
from orgs.models import Organization, PersonalAccessToken
from orgs.roles import effective_scopes
from orgs.selectors import role_in_org

logger = logging.getLogger(__name__)

PAT_PREFIX = "frl_"
PAT_SALT = "centeros.orgs.personal_access_token"
ROBOT_TOKEN_PREFIX = "frr_"
LAST_USED_RESOLUTION = timedelta(minutes=1)

# One message for every kind of bad PAT, so a caller cannot tell an unknown
# token from a revoked or expired one.
INVALID_PAT = "The personal access token is invalid, expired or revoked."


def _bearer_token(request) -> str | None:
    header = authentication.get_authorization_header(request).decode(
        "latin-1", errors="replace"
    )
    parts = header.split()
    if not parts or parts[0].lower() != "bearer":
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            "The Authorization header must be 'Bearer <token>' with one token."
        )
    return parts[1]


def pat_lookup(token: str) -> PersonalAccessToken | None:
    """Return the PAT row for a presented token, or None, in one query."""
    hashes = credentials.candidate_hashes(token, salt=PAT_SALT)
    return (
        PersonalAccessToken.objects.select_related("owner", "org")
        .filter(token_hash__in=hashes)
        .first()
    )


class PersonalAccessTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer frl_...``."""

    def authenticate(self, request):
        token = _bearer_token(request)
        if token is None:
            return None
        if token.startswith(ROBOT_TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed(
                "Robot tokens work only on the agent endpoints (/api/agent/)."
            )
        if not token.startswith(PAT_PREFIX):
            return None

        pat = pat_lookup(token) if credentials.looks_like(token, PAT_PREFIX) else None
        if pat is None or not pat.is_active:
            raise exceptions.AuthenticationFailed(INVALID_PAT)

        owner = pat.owner
        if not owner.is_active:
            raise exceptions.AuthenticationFailed(
                "The owner of this personal access token is deactivated."
            )
        role = role_in_org(user=owner, org=pat.org)
        if role is None:
            raise exceptions.AuthenticationFailed(
                "The owner of this personal access token is no longer a member "
                "of its organisation."
            )

        self._touch(pat)
        principal = Principal(
            user=owner,
            org=pat.org,
            role=role,
            scopes=effective_scopes(pat.scopes, role, is_superuser=owner.is_superuser),
            token_kind="pat",
            token_id=str(pat.pk),
        )
        return owner, principal

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    @staticmethod
    def _touch(pat: PersonalAccessToken) -> None:
        # Written at most once a minute per token, so busy scripts do not
        # turn every read into a write.
        now = timezone.now()
        if pat.last_used_at and now - pat.last_used_at < LAST_USED_RESOLUTION:
            return
        PersonalAccessToken.objects.filter(pk=pat.pk).filter(
            Q(last_used_at__isnull=True)
            | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)


class OrgJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <JWT access token>`` carrying an ``org_id`` claim."""

    def authenticate(self, request):
        token = _bearer_token(request)
        if token is None or token.startswith((PAT_PREFIX, ROBOT_TOKEN_PREFIX)):
            return None

        try:
            validated = self.get_validated_token(token.encode())
        except InvalidToken:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or expired; log in again or refresh it."
            )
        try:
            user = self.get_user(validated)
        except (InvalidToken, exceptions.AuthenticationFailed, TokenError):
            raise exceptions.AuthenticationFailed(
                "The user of this access token no longer exists or is deactivated."
            )
        if not user.is_active:
            raise exceptions.AuthenticationFailed("This user is deactivated.")

        org = Organization.objects.filter(pk=validated.get("org_id")).first()
        if org is None:
            raise exceptions.AuthenticationFailed(
                "The organisation of this access token no longer exists."
            )
        role = role_in_org(user=user, org=org)
        if role is None:
            raise exceptions.AuthenticationFailed(
                "This user is no longer a member of the token's organisation."
            )

        principal = Principal(
            user=user,
            org=org,
            role=role,
            scopes=effective_scopes(["*"], role, is_superuser=user.is_superuser),
            token_kind="jwt",
            token_id=str(validated.get("jti", "")),
        )
        return user, principal
