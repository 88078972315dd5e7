"""Write-side rules of organisations, memberships and personal access tokens."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from centeros import credentials
from centeros import scopes as scope_names
from centeros.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from orgs.authentication import PAT_PREFIX, PAT_SALT
from orgs.models import Membership, Organization, PersonalAccessToken, User
from orgs.selectors import pat_within

logger = logging.getLogger(__name__)

MAX_PAT_LIFETIME_DAYS = 3650


def organization_create(*, name: str, slug: str | None = None) -> Organization:
    slug = slug or slugify(name)
    if not slug:
        raise InvalidInput(f"Cannot derive a slug from the name {name!r}; give one.")
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organisation with the slug {slug!r} already exists.")
    org = Organization.objects.create(name=name, slug=slug)
    logger.info("Created organisation %s (%s)", org.pk, org.slug)
    return org


@transaction.atomic
def pat_create(
    *,
    owner: User,
    org: Organization,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
    granted_scopes: frozenset[str] | None = None,
    created_by_pat: PersonalAccessToken | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Create a PAT and return it with the token, which is never stored.

    ``granted_scopes`` are the creating caller's effective scopes: a new PAT
    may not carry a scope its creator does not have. When a PAT creates the
    new one (``created_by_pat``), ``*`` means the creator's scopes, the new
    PAT expires no later than its creator, and revoking the creator revokes
    it. Raises InvalidInput for unknown scopes and PermissionDenied for
    scopes beyond the caller's.
    """
    if not scopes:
        raise InvalidInput("Give at least one scope, or '*' for all of yours.")
    unknown = scope_names.unknown_scopes(scopes)
    if unknown:
        raise InvalidInput(
            f"Unknown scope(s): {', '.join(unknown)}. Scopes look like "
            "'datasets:read'; '*' grants all.",
            errors={"scopes": [f"Unknown scope {s!r}." for s in unknown]},
        )
    if created_by_pat is not None and scope_names.WILDCARD in scopes:
        scopes = sorted(granted_scopes or ())
        if not scopes:
            raise InvalidInput("The creating token has no scopes to pass on.")
    if scope_names.WILDCARD in scopes:
        # "*" from a logged-in user stays "*": it is intersected with the
        # owner's role on every request, so it never exceeds the owner.
        scopes = [scope_names.WILDCARD]
    elif granted_scopes is not None:
        beyond = sorted(scope_names.expand(scopes) - granted_scopes)
        if beyond:
            raise PermissionDenied(
                "A new token cannot have scopes that the creating token lacks: "
                f"{', '.join(beyond)}."
            )
    if (
        expires_in_days is not None
        and not 1 <= expires_in_days <= MAX_PAT_LIFETIME_DAYS
    ):
        raise InvalidInput(
            f"expires_in_days must be between 1 and {MAX_PAT_LIFETIME_DAYS}."
        )

    token = credentials.new_token(PAT_PREFIX)
    expires_at = (
        timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    )
    if created_by_pat is not None and created_by_pat.expires_at is not None:
        if expires_at is None or expires_at > created_by_pat.expires_at:
            expires_at = created_by_pat.expires_at
    pat = PersonalAccessToken.objects.create(
        name=name,
        owner=owner,
        org=org,
        scopes=sorted(set(scopes)),
        prefix=credentials.display_prefix(token),
        token_hash=credentials.token_hash(token, salt=PAT_SALT),
        expires_at=expires_at,
        parent=created_by_pat,
    )
    logger.info("Created PAT %s for user %s in org %s", pat.pk, owner.pk, org.pk)
    return pat, token


@transaction.atomic
def pat_revoke(
    *,
    pat_id: int,
    owner: User,
    org: Organization,
    acting_pat: PersonalAccessToken | None = None,
    granted_scopes: frozenset[str] | None = None,
) -> PersonalAccessToken:
    """Revoke one of the owner's PATs and every PAT created from it.

    A caller that authenticated with a PAT (``acting_pat``) may revoke itself or a PAT with no
    scope beyond ``granted_scopes``, so a narrow token cannot cut off a
    wider one. Raises NotFound for a PAT that is not the owner's here,
    PermissionDenied for a wider one and Conflict when already revoked.
    """
    pat = (
        PersonalAccessToken.objects.select_for_update()
        .filter(pk=pat_id, owner=owner, org=org)
        .first()
    )
    if pat is None:
        raise NotFound(f"No personal access token with id {pat_id} is yours here.")
    if (
        acting_pat is not None
        and pat.pk != acting_pat.pk
        and not pat_within(pat, granted_scopes or frozenset())
    ):
        raise PermissionDenied(
            f"The personal access token {pat_id} has scopes this token lacks; "
            "revoke it with a wider token or after logging in."
        )
    if pat.revoked_at is not None:
        raise Conflict(f"The personal access token {pat_id} is already revoked.")

    now = timezone.now()
    revoked = [pat.pk]
    frontier = [pat.pk]
    while frontier:
        children = list(
            PersonalAccessToken.objects.filter(parent_id__in=frontier).values_list(
                "pk", flat=True
            )
        )
        frontier = [child for child in children if child not in revoked]
        revoked.extend(frontier)
    PersonalAccessToken.objects.filter(pk__in=revoked, revoked_at__isnull=True).update(
        revoked_at=now
    )
    pat.refresh_from_db()
    logger.info("Revoked PATs %s of user %s", revoked, owner.pk)
    return pat


def _user_for_email(email: str) -> tuple[User, bool]:
    """Return the user with ``email``, creating one when there is none.

    Concurrent invitations of the same new address race on the unique email
    and username constraints; the loser reads the winner's user, or tries
    another username.
    """
    for _ in range(5):
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        user = User(username=_username_from_email(email), email=email)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            logger.info("User creation for an invitation raced; retrying")
            continue
        return user, True
    raise Conflict(
        f"Could not create a user for {email} because of concurrent "
        "invitations; try again."
    )


def _username_from_email(email: str) -> str:
    base = slugify(email.split("@")[0])[:100] or "user"
    candidate = base
    counter = 1
    while User.objects.filter(username=candidate).exists():
        counter += 1
        candidate = f"{base}-{counter}"
    return candidate


@transaction.atomic
def member_invite(
    *, org: Organization, email: str, role: str, invited_by: User | None
) -> tuple[Membership, bool]:
    """Add a user to ``org`` with ``role``, creating the user when needed.

    Returns the membership and whether a user was created. A created user has
    no usable password until an admin sets one. Raises Conflict when the user
    is already a member.
    """
    email = email.strip()
    user, created = _user_for_email(email)
    if created:
        logger.info("Created user %s for an invitation to org %s", user.pk, org.pk)

    if Membership.objects.filter(user=user, org=org).exists():
        raise Conflict(f"{email} is already a member of {org.name}.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, org=org, role=role, invited_by=invited_by
            )
    except IntegrityError:
        raise Conflict(f"{email} is already a member of {org.name}.")
    logger.info("Added user %s to org %s as %s", user.pk, org.pk, role)
    return membership, created


def membership_set(*, user: User, org: Organization, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, org=org, defaults={"role": role}
    )
    return membership
