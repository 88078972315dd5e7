"""Read-side queries of organisations, memberships and tokens."""

from centeros import scopes as scope_names
from orgs.models import Membership, Organization, PersonalAccessToken, User


def membership_get(*, user: User, org: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, org=org).first()


def role_in_org(*, user: User, org: Organization) -> str | None:
    """Return the user's role in ``org``; superusers count as admins."""
    membership = membership_get(user=user, org=org)
    if membership is not None:
        return membership.role
    if user.is_superuser:
        return "admin"
    return None


def org_visible_to(*, user: User):
    """Return the organisations a user may see: all for superadmins."""
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user).distinct()


def org_members(*, org: Organization):
    return Membership.objects.filter(org=org).select_related("user", "invited_by")


def pat_list(*, owner: User, org: Organization):
    return PersonalAccessToken.objects.filter(owner=owner, org=org)


def pat_within(pat: PersonalAccessToken, granted_scopes: frozenset[str]) -> bool:
    """Return whether ``pat`` has no scope beyond ``granted_scopes``."""
    return scope_names.expand(pat.scopes) <= granted_scopes


def pat_list_visible(
    *,
    owner: User,
    org: Organization,
    acting_pat_id: int | None,
    granted_scopes: frozenset[str],
):
    """Return the owner's PATs that the caller may see.

    A caller that authenticated with a PAT (``acting_pat_id``) sees that PAT
    and the PATs with no scope beyond ``granted_scopes``, the same rule that
    limits which PATs it may revoke. A logged-in user sees all of them.
    """
    queryset = pat_list(owner=owner, org=org)
    if acting_pat_id is None:
        return queryset
    visible = [
        pat.pk
        for pat in queryset.only("pk", "scopes")
        if pat.pk == acting_pat_id or pat_within(pat, granted_scopes)
    ]
    return queryset.filter(pk__in=visible)


def default_org_for(*, user: User) -> Organization | None:
    """Return the organisation a login without ``org`` signs in to."""
    membership = (
        Membership.objects.filter(user=user)
        .select_related("org")
        .order_by("id")
        .first()
    )
    if membership is not None:
        return membership.org
    if user.is_superuser:
        return Organization.objects.order_by("id").first()
    return None
