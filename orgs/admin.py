"""Admin pages of organisations, memberships, users and personal access tokens.

Organisation admins manage their own organisation and its members' roles;
only superusers create organisations and manage user accounts. Everyone
manages their own personal access tokens: a new token is shown once, on the
page after the form, and only its hash is stored.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from centeros import scopes as scope_names
from centeros.admin_mixins import (
    OrgScopedAdminMixin,
    ScopedInlineMixin,
    report_outcomes,
    run_operation,
    scoped_org_filter,
    scopes_in_org,
    service_action,
    user_roles,
)
from orgs import services
from orgs.models import Membership, Organization, PersonalAccessToken, User


class MembershipInline(ScopedInlineMixin, admin.TabularInline):
    model = Membership
    scope_area = "orgs"
    parent_org_lookup = "pk"
    fk_name = "org"
    fields = ("user", "role", "invited_by", "created_at")
    readonly_fields = fields


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    scope_area = "orgs"
    org_lookup = "pk"
    list_display = ("name", "slug", "require_passing_evaluation", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)
    inlines = (MembershipInline,)

    def has_add_permission(self, request, *args) -> bool:
        # New organisations are a platform decision (bootstrap or a superuser).
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        # The slug names the organisation in logins and storage paths.
        if obj is not None:
            return (*self.readonly_fields, "slug")
        return self.readonly_fields


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Roles of members; new members come in through invite_member."""

    scope_area = "orgs"
    delete_enabled = True
    list_display = ("user", "org", "role", "invited_by", "created_at")
    list_filter = ("role", scoped_org_filter())
    search_fields = ("user__username", "user__email", "org__name")
    list_select_related = ("user", "org", "invited_by")
    readonly_fields = ("invited_by", "created_at")

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return (*self.readonly_fields, "user", "org")
        return self.readonly_fields


@admin.register(User)
class CenterOSUserAdmin(UserAdmin):
    """User accounts, managed by superusers only."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


# ---------------------------------------------------------------------------
# Personal access tokens


class PatCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="A name to recognise the token by."
    )
    org = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        label="Organisation",
        help_text="The organisation the token acts in.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope_names.WILDCARD, "* (every scope of your role)")]
        + [(scope, scope) for scope in sorted(scope_names.ALL_SCOPES)],
        widget=forms.CheckboxSelectMultiple,
        help_text="Scopes beyond your role's in the organisation are rejected.",
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_PAT_LIFETIME_DAYS,
        help_text="Days until the token expires; leave empty for no expiry.",
    )

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    """Each user's own tokens; superusers see every token.

    Nothing here is editable: a token is created with the form and ends by
    revocation, both through the same services as create_pat and revoke_pat.
    """

    list_display = (
        "name",
        "prefix",
        "org",
        "owner",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (scoped_org_filter(), "revoked_at", "created_at")
    search_fields = ("name", "prefix")
    list_select_related = ("org", "owner")
    exclude = ("token_hash",)
    readonly_fields = (
        "name",
        "owner",
        "org",
        "scopes",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke_tokens",)

    @admin.display(description="scopes")
    def scope_list(self, pat: PersonalAccessToken) -> str:
        return ", ".join(pat.scopes)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(owner=request.user)

    def _token_orgs(self, request):
        if request.user.is_superuser:
            return Organization.objects.order_by("name")
        return Organization.objects.filter(pk__in=list(user_roles(request))).order_by(
            "name"
        )

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser or bool(user_roles(request))

    def has_view_permission(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return bool(user_roles(request))
        return obj.owner_id == request.user.pk

    def has_add_permission(self, request) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        orgs = self._token_orgs(request)
        form = PatCreateForm(
            request.POST if request.method == "POST" else None, orgs=orgs
        )
        if request.method == "POST" and form.is_valid():
            org = form.cleaned_data["org"]
            params = {
                "name": form.cleaned_data["name"],
                "scopes": form.cleaned_data["scopes"],
                "expires_in_days": form.cleaned_data["expires_in_days"],
            }
            outcome = run_operation(
                request,
                action="create_pat",
                org=org,
                params=params,
                call=lambda: services.pat_create(
                    owner=request.user,
                    org=org,
                    granted_scopes=scopes_in_org(request, org.pk),
                    **params,
                ),
            )
            if outcome.ok:
                pat, token = outcome.result
                response = TemplateResponse(
                    request,
                    "admin/orgs/personalaccesstoken/created.html",
                    {
                        **self.admin_site.each_context(request),
                        "title": "Token created",
                        "opts": self.model._meta,
                        "pat": pat,
                        "token": token,
                    },
                )
                # The token is on this page only; browsers and proxies must
                # not keep a copy.
                response["Cache-Control"] = "no-store"
                return response
            form.add_error(None, outcome.error.detail)

        return TemplateResponse(
            request,
            "admin/orgs/personalaccesstoken/add.html",
            {
                **self.admin_site.each_context(request),
                "title": "Create a personal access token",
                "opts": self.model._meta,
                "form": form,
            },
        )

    @service_action(api_action="revoke_pat", description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        outcomes = [
            run_operation(
                request,
                action="revoke_pat",
                org=pat.org,
                params={"pat_id": pat.pk},
                call=lambda pat=pat: services.pat_revoke(
                    pat_id=pat.pk, owner=pat.owner, org=pat.org
                ),
            )
            for pat in queryset.select_related("org", "owner")
        ]
        report_outcomes(self, request, outcomes, "Revoked {count} token(s).")
        return HttpResponseRedirect(
            reverse("admin:orgs_personalaccesstoken_changelist")
        )


# simplejwt's admin lists every outstanding refresh token in full, which
# would show credentials on a page; token revocation goes through logout.
for _model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
