"""Organisation scoping of the Django admin, and admin operations on services.

Staff users who are not superusers see and change only the objects of the
organisations where they are members. What a role may do is read from the
scope table of ``centeros.scopes.ROLE_SCOPES``: viewing an object needs
``<area>:read`` in the object's organisation and changing it needs
``<area>:write``. Django's model permissions are not consulted, so a staff
member needs no rows in the auth permission tables; superusers see and change
everything.

Admin operations (launch, stop, promote, ...) call the same services as the
API actions, need the scopes that the API action of the same name declares,
and write the same audit entries with ``source="admin"``.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse

from centeros import scopes as scope_names
from centeros.actions.registry import registry
from centeros.audit import audit_record
from centeros.errors import DomainError, PermissionDenied
from orgs.models import Membership, Organization, User
from orgs.roles import role_scopes

logger = logging.getLogger(__name__)

_ROLES_ATTRIBUTE = "_centeros_admin_roles"
_FORM_ORGS_ATTRIBUTE = "_centeros_admin_form_org_ids"

# The audit log shows who ran what in an organisation. Every role reads the
# platform stats of its organisation, and the audit log is read with them.
AUDIT_READ_SCOPE = "stats:read"

# The audit entry's token_kind for operations run from a signed-in admin page.
ADMIN_TOKEN_KIND = "session"


# ---------------------------------------------------------------------------
# Roles and scopes of the signed-in user


def user_roles(request) -> dict[int, str]:
    """Return the user's role per organisation id, cached on the request."""
    roles = getattr(request, _ROLES_ATTRIBUTE, None)
    if roles is None:
        user = request.user
        if user.is_authenticated and user.is_active:
            roles = dict(
                Membership.objects.filter(user=user).values_list("org_id", "role")
            )
        else:
            roles = {}
        setattr(request, _ROLES_ATTRIBUTE, roles)
    return roles


def scopes_in_org(request, org_id: int | None) -> frozenset[str]:
    """Return the scopes the user's role grants in one organisation."""
    if request.user.is_superuser:
        return scope_names.ALL_SCOPES
    return role_scopes(user_roles(request).get(org_id))


def org_ids_granting(request, *scopes: str) -> list[int] | None:
    """Return the ids of the organisations where the user's role grants ``scopes``.

    Returns None for a superuser, meaning every organisation.
    """
    if request.user.is_superuser:
        return None
    needed = set(scopes)
    return sorted(
        org_id
        for org_id, role in user_roles(request).items()
        if needed <= role_scopes(role)
    )


def has_scopes_somewhere(request, *scopes: str) -> bool:
    org_ids = org_ids_granting(request, *scopes)
    return org_ids is None or bool(org_ids)


def action_scopes(action_name: str, fallback: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the scopes the API action ``action_name`` declares.

    ``fallback`` applies only while no action of that name is registered.
    """
    declared = registry.get(action_name)
    scopes = declared.scopes if declared is not None else tuple(fallback)
    return tuple(s for s in scopes if s != scope_names.AUTHENTICATED)


def org_id_of(obj, lookup: str) -> int | None:
    """Follow ``lookup`` (``org`` or ``task__org``) from ``obj`` to an org id."""
    if lookup == "pk":
        return obj.pk
    *path, last = lookup.split("__")
    target = obj
    for name in path:
        target = getattr(target, name, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


# ---------------------------------------------------------------------------
# The scoping mixin


class OrgScopedAdminMixin:
    """Scope a ModelAdmin to the organisations of the signed-in user.

    Subclasses set ``scope_area`` (an area of ``centeros.scopes.AREAS``) and,
    for models that reach their organisation through a relation,
    ``org_lookup`` (``task__org``). Adding and deleting are off unless a
    subclass enables them, because most objects are created and removed by
    services; ``change_enabled = False`` makes every page view-only.
    """

    scope_area: str = ""
    org_lookup: str = "org"
    add_enabled = False
    change_enabled = True
    delete_enabled = False

    @property
    def read_scope(self) -> str:
        return f"{self.scope_area}:read"

    @property
    def write_scope(self) -> str:
        return f"{self.scope_area}:write"

    def org_id_of(self, obj) -> int | None:
        return org_id_of(obj, self.org_lookup)

    # Visibility

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        org_ids = org_ids_granting(request, self.read_scope)
        if org_ids is None:
            return queryset
        return queryset.filter(**{f"{self.org_lookup}__in": org_ids})

    def has_module_permission(self, request) -> bool:
        return has_scopes_somewhere(request, self.read_scope)

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return has_scopes_somewhere(request, self.read_scope)
        granted = scopes_in_org(request, self.org_id_of(obj))
        return self.read_scope in granted or self.write_scope in granted

    def _may_write(self, request, obj) -> bool:
        if obj is None:
            return has_scopes_somewhere(request, self.write_scope)
        return self.write_scope in scopes_in_org(request, self.org_id_of(obj))

    def has_change_permission(self, request, obj=None) -> bool:
        return self.change_enabled and self._may_write(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self.add_enabled and self._may_write(request, None)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.delete_enabled and self._may_write(request, obj)

    # Form choices: only objects of the organisations the user may write in,
    # and only of the object's own organisation on an existing object.

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            org_ids = [self.org_id_of(obj)]
        else:
            org_ids = org_ids_granting(request, self.write_scope)
        setattr(request, _FORM_ORGS_ATTRIBUTE, org_ids)
        return super().get_form(request, obj, change=change, **kwargs)

    def _scoped_choices(self, model, request):
        org_ids = getattr(
            request, _FORM_ORGS_ATTRIBUTE, org_ids_granting(request, self.write_scope)
        )
        if org_ids is None:
            return None
        if model is Organization:
            return Organization.objects.filter(pk__in=org_ids)
        if model is User:
            return User.objects.filter(memberships__org__in=org_ids).distinct()
        field_names = {field.name for field in model._meta.get_fields()}
        if "org" in field_names:
            return model._default_manager.filter(org__in=org_ids)
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = self._scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        choices = self._scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # Admin actions: an action that runs an API action's service is listed
    # only when the user's role grants that action's scopes somewhere.

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name in list(actions):
            func = actions[name][0]
            api_action = getattr(func, "api_action", None)
            if api_action is None:
                continue
            scopes = action_scopes(api_action, getattr(func, "fallback_scopes", ()))
            if not has_scopes_somewhere(request, *scopes):
                del actions[name]
        return actions


def service_action(
    *, api_action: str, description: str, fallback_scopes: Iterable[str] = ()
):
    """Declare an admin action that runs the service of the API ``api_action``."""

    def decorate(func):
        func = admin.action(description=description)(func)
        func.api_action = api_action
        func.fallback_scopes = tuple(fallback_scopes)
        return func

    return decorate


def scoped_org_filter(field: str = "org"):
    """Return a list filter whose choices are only the organisations shown.

    Django's plain related filter lists every organisation in the database,
    which would show other organisations' names to a scoped user.
    """
    return (field, admin.RelatedOnlyFieldListFilter)


# ---------------------------------------------------------------------------
# Operations: one service call with the API's rules and audit entry


@dataclass
class OperationOutcome:
    """The result of one admin operation, or the domain error it raised."""

    result: Any = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_operation(
    request,
    *,
    action: str,
    org: Organization,
    params: dict,
    call: Callable[[], Any],
    fallback_scopes: Iterable[str] = (),
) -> OperationOutcome:
    """Run ``call`` as the API action ``action`` would, for an admin user.

    Checks that the user's role in ``org`` grants the action's scopes, runs
    the call in a transaction (a DomainError with ``keep_changes`` commits
    its changes first, as in the action layer) and writes one audit entry
    with ``source="admin"``. A DomainError is returned in the outcome, never
    raised, so the page can show it as a message.
    """
    started = time.monotonic()
    outcome = OperationOutcome()
    try:
        missing = sorted(
            set(action_scopes(action, fallback_scopes)) - scopes_in_org(request, org.pk)
        )
        if missing:
            raise PermissionDenied(
                f"Your role in {org.name} does not allow {action}; it needs "
                f"the scope(s) {', '.join(missing)}. Ask an admin of the "
                "organisation for a role that has them."
            )
        kept_error = None
        with transaction.atomic():
            try:
                outcome.result = call()
            except DomainError as error:
                if not error.keep_changes:
                    raise
                kept_error = error
        if kept_error is not None:
            raise kept_error
    except DomainError as error:
        outcome.error = error
        logger.info(
            "Admin operation %s by user %s in org %s failed with %s: %s",
            action,
            request.user.pk,
            org.pk,
            error.status_code,
            error.detail,
        )

    audit_record(
        action=action,
        status_code=outcome.error.status_code if outcome.error else 200,
        params=params,
        org=org,
        user=request.user,
        token_kind=ADMIN_TOKEN_KIND,
        detail=outcome.error.detail if outcome.error else "",
        duration_ms=int((time.monotonic() - started) * 1000),
        client_ip=request.META.get("REMOTE_ADDR") or None,
        request_id=getattr(request, "request_id", ""),
        source="admin",
    )
    return outcome


def report_outcomes(
    model_admin, request, outcomes: list[OperationOutcome], done: str
) -> None:
    """Show one error message per failed operation and a count of successes.

    ``done`` is a sentence with ``{count}``, such as "Launched {count} job(s).".
    """
    succeeded = 0
    for outcome in outcomes:
        if outcome.ok:
            succeeded += 1
        else:
            model_admin.message_user(request, outcome.error.detail, messages.ERROR)
    if succeeded:
        model_admin.message_user(
            request, done.format(count=succeeded), messages.SUCCESS
        )


def intermediate_page(
    model_admin,
    request,
    queryset,
    *,
    action_name: str,
    title: str,
    form,
    submit_label: str,
    intro: str = "",
    danger: bool = False,
    object_lines: list[str] | None = None,
) -> TemplateResponse:
    """Render a confirmation or form page for an admin action.

    The page posts back to the changelist with the same action and selection,
    plus ``apply``, which the action reads to run for real.
    """
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": opts,
        "queryset": queryset,
        "object_lines": object_lines
        if object_lines is not None
        else [str(obj) for obj in queryset],
        "selected_ids": [str(obj.pk) for obj in queryset],
        "action_name": action_name,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "form": form,
        "submit_label": submit_label,
        "danger": danger,
    }
    return TemplateResponse(request, "admin/centeros/action_page.html", context)


def single_org(model_admin, request, queryset) -> Organization | None:
    """Return the one organisation of the selected objects, or None.

    Operations with a form (deploy, promote) list choices of one
    organisation, so a selection across organisations is rejected with a
    message.
    """
    org_ids = {org_id_of(obj, model_admin.org_lookup) for obj in queryset}
    if len(org_ids) != 1:
        model_admin.message_user(
            request,
            "The selected objects belong to several organisations; select "
            "objects of one organisation at a time.",
            messages.ERROR,
        )
        return None
    return Organization.objects.get(pk=org_ids.pop())


class ScopedInlineMixin:
    """Read-only inline whose visibility follows the parent's organisation.

    Django's inlines check the auth permission tables, which scoped staff
    users have no rows in, so the parent's scope decides instead.
    """

    scope_area: str = ""
    parent_org_lookup: str = "org"
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None) -> bool:
        read_scope = f"{self.scope_area}:read"
        if obj is None:
            return has_scopes_somewhere(request, read_scope)
        org_id = org_id_of(obj, self.parent_org_lookup)
        return read_scope in scopes_in_org(request, org_id)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
