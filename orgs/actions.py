"""Actions of the orgs and tokens categories."""

from rest_framework import serializers

from centeros.actions import Risk, action
from centeros.actions.pagination import paginate
from centeros.actions.params import (
    ActionParams,
    NoParams,
    PaginationParams,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    object_id_field,
)
from centeros.errors import PermissionDenied
from centeros.scopes import AUTHENTICATED
from orgs import selectors, services
from orgs.models import Membership, Organization, PersonalAccessToken, RoleChoices


def _iso(value):
    return value.isoformat() if value else None


def org_data(org: Organization) -> dict:
    return {
        "id": org.pk,
        "name": org.name,
        "slug": org.slug,
        "require_passing_evaluation": org.require_passing_evaluation,
        "created_at": _iso(org.created_at),
    }


def membership_data(membership: Membership) -> dict:
    user = membership.user
    return {
        "user_id": user.pk,
        "username": user.username,
        "email": user.email,
        "role": membership.role,
        "is_active": user.is_active,
        "joined_at": _iso(membership.created_at),
    }


def pat_data(pat: PersonalAccessToken) -> dict:
    return {
        "id": pat.pk,
        "name": pat.name,
        "prefix": pat.prefix,
        "scopes": pat.scopes,
        "org_id": pat.org_id,
        "created_at": _iso(pat.created_at),
        "expires_at": _iso(pat.expires_at),
        "last_used_at": _iso(pat.last_used_at),
        "revoked_at": _iso(pat.revoked_at),
        "active": pat.is_active,
    }


def _acting_pat(context) -> PersonalAccessToken | None:
    """Return the PAT the caller authenticated with, or None for a JWT."""
    if context.principal.token_kind != "pat":
        return None
    return PersonalAccessToken.objects.get(pk=int(context.principal.token_id))


def _target_org(context, org_id: int | None) -> Organization:
    """Return the organisation an action names, defaulting to the token's.

    Naming another organisation is a 403 rather than a 404 because the
    caller asked for it explicitly; superadmins may name any organisation.
    """
    if org_id is None or org_id == context.org.pk:
        return context.org
    if context.is_superadmin:
        org = Organization.objects.filter(pk=org_id).first()
        if org is not None:
            return org
    raise PermissionDenied(
        f"This token is bound to organisation {context.org.pk}; it cannot act "
        f"on organisation {org_id}."
    )


@action(
    name="list_orgs",
    category="orgs",
    description="List organizations. Superadmins see all; others see only their org.",
    scopes=["orgs:read"],
    risk=Risk.READ,
    params=PaginationParams,
)
def list_orgs(context, params):
    if context.is_superadmin:
        queryset = Organization.objects.order_by("name", "id")
    else:
        queryset = Organization.objects.filter(pk=context.org.pk)
    return paginate(queryset, params, org_data)


class ListOrgMembersParams(PaginationParams):
    org_id = object_id_field(
        "organisation", required=False, help_text="Defaults to the token's."
    )


@action(
    name="list_org_members",
    category="orgs",
    description="List members of an organization with their roles.",
    scopes=["orgs:read"],
    risk=Risk.READ,
    params=ListOrgMembersParams,
)
def list_org_members(context, params):
    org = _target_org(context, params.get("org_id"))
    return paginate(selectors.org_members(org=org), params, membership_data)


class InviteMemberParams(ActionParams):
    org_id = object_id_field("organisation")
    email = serializers.EmailField(max_length=254, help_text="Email of the person.")
    role = StrictChoiceField(
        choices=RoleChoices.values,
        required=False,
        default=RoleChoices.VIEWER,
        help_text="Role in the organisation.",
    )

    def to_internal_value(self, data):
        if (
            isinstance(data, dict)
            and "email" in data
            and not isinstance(data["email"], str)
        ):
            raise serializers.ValidationError({"email": ["Must be a string."]})
        return super().to_internal_value(data)


@action(
    name="invite_member",
    category="orgs",
    description="Invite a user to an organization. Creates the user if they do not exist.",
    scopes=["orgs:write"],
    risk=Risk.WRITE,
    params=InviteMemberParams,
)
def invite_member(context, params):
    org = _target_org(context, params["org_id"])
    membership, created = services.member_invite(
        org=org, email=params["email"], role=params["role"], invited_by=context.user
    )
    return membership_data(membership) | {"org_id": org.pk, "user_created": created}


@action(
    name="whoami",
    category="tokens",
    description="Show the caller: user, organisation, role, token and effective scopes.",
    scopes=[AUTHENTICATED],
    risk=Risk.READ,
    params=NoParams,
)
def whoami(context, params):
    user = context.user
    return {
        "user": {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "is_superuser": user.is_superuser,
        },
        "org": org_data(context.org),
        "role": context.principal.role,
        "token": {
            "kind": context.principal.token_kind,
            "id": context.principal.token_id,
        },
        "scopes": sorted(context.scopes),
    }


class ListPatsParams(PaginationParams):
    include_revoked = StrictBooleanField(
        required=False, default=True, help_text="Include revoked tokens."
    )


@action(
    name="list_pats",
    category="tokens",
    description="List your personal access tokens in this organisation (never the tokens themselves).",
    scopes=[AUTHENTICATED],
    risk=Risk.READ,
    params=ListPatsParams,
)
def list_pats(context, params):
    acting_pat = _acting_pat(context)
    queryset = selectors.pat_list_visible(
        owner=context.user,
        org=context.org,
        acting_pat_id=acting_pat.pk if acting_pat else None,
        granted_scopes=context.scopes,
    )
    if not params["include_revoked"]:
        queryset = queryset.active()
    return paginate(queryset, params, pat_data)


class CreatePatParams(ActionParams):
    name = StrictCharField(
        max_length=100, help_text="A name to recognise the token by."
    )
    scopes = serializers.ListField(
        child=StrictCharField(max_length=40),
        min_length=1,
        max_length=50,
        help_text="Scopes such as 'datasets:read', or '*' for all of yours.",
    )
    expires_in_days = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_PAT_LIFETIME_DAYS,
        help_text="Days until the token expires; no expiry when omitted.",
    )


@action(
    name="create_pat",
    category="tokens",
    description="Create a personal access token. The token is shown once, in this response.",
    scopes=[AUTHENTICATED],
    risk=Risk.WRITE,
    params=CreatePatParams,
)
def create_pat(context, params):
    pat, token = services.pat_create(
        owner=context.user,
        org=context.org,
        name=params["name"],
        scopes=params["scopes"],
        expires_in_days=params.get("expires_in_days"),
        granted_scopes=context.scopes,
        created_by_pat=_acting_pat(context),
    )
    return pat_data(pat) | {"token": token}


class RevokePatParams(ActionParams):
    pat_id = object_id_field("personal access token")


@action(
    name="revoke_pat",
    category="tokens",
    description="Revoke one of your personal access tokens; it stops working at once.",
    scopes=[AUTHENTICATED],
    risk=Risk.DESTRUCTIVE,
    params=RevokePatParams,
)
def revoke_pat(context, params):
    pat = services.pat_revoke(
        pat_id=params["pat_id"],
        owner=context.user,
        org=context.org,
        acting_pat=_acting_pat(context),
        granted_scopes=context.scopes,
    )
    return pat_data(pat)
