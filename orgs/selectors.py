"""Read-side queries of organisations, memberships and tokens."""

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
