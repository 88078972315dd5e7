"""JWT login, refresh with rotation, and logout that blacklists."""

import logging

from django.contrib.auth import authenticate
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from centeros.actions.params import StrictCharField
from centeros.actions.throttles import LoginRateThrottle
from centeros.errors import AuthenticationFailed, InvalidInput
from orgs.models import Organization, User
from orgs.roles import role_scopes
from orgs.selectors import default_org_for, role_in_org

logger = logging.getLogger(__name__)


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=1024, trim_whitespace=False)
    org = StrictCharField(
        required=False, max_length=100, help_text="Organisation slug or id."
    )


class RefreshSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=4096)


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidInput("The body must be a JSON object.")
    unknown = sorted(set(request.data) - set(serializer_class().fields))
    if unknown:
        raise InvalidInput(
            f"Unknown field {unknown[0]!r}.",
            errors={name: ["Unknown field."] for name in unknown},
        )
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _resolve_org(user: User, requested: str | None) -> tuple[Organization, str]:
    if requested:
        is_id = requested.isascii() and requested.isdigit() and len(requested) < 19
        lookup = {"pk": int(requested)} if is_id else {"slug": requested}
        org = Organization.objects.filter(**lookup).first()
    else:
        org = default_org_for(user=user)
    role = role_in_org(user=user, org=org) if org else None
    if org is None or role is None:
        # The same error whether the organisation exists or not.
        raise AuthenticationFailed(
            "This user is not a member of that organisation."
            if requested
            else "This user is not a member of any organisation."
        )
    return org, role


def _token_pair(user: User, org: Organization) -> dict:
    refresh = RefreshToken.for_user(user)
    refresh["org_id"] = org.pk
    access = refresh.access_token
    return {
        "access_token": str(access),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    }


def _user_data(user: User, org: Organization, role: str) -> dict:
    return {
        "user": {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "is_superuser": user.is_superuser,
        },
        "org": {"id": org.pk, "slug": org.slug, "name": org.name},
        "role": role,
        "scopes": sorted(role_scopes(role, is_superuser=user.is_superuser)),
    }


class LoginView(APIView):
    """``POST /api/auth/login``: username and password for a token pair."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=LoginSerializer, responses={200: dict}, tags=["auth"])
    def post(self, request):
        data = _validated(LoginSerializer, request)
        user = authenticate(
            request, username=data["username"], password=data["password"]
        )
        if user is None or not user.is_active:
            logger.info("Failed login for username %r", data["username"][:150])
            raise AuthenticationFailed("Invalid username or password.")

        org, role = _resolve_org(user, data.get("org"))
        body = _token_pair(user, org) | _user_data(user, org, role)
        logger.info("User %s logged in to org %s", user.pk, org.pk)
        return Response(body)


class RefreshView(APIView):
    """``POST /api/auth/refresh``: a new pair; the old refresh token is spent."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=RefreshSerializer, responses={200: dict}, tags=["auth"])
    def post(self, request):
        data = _validated(RefreshSerializer, request)
        try:
            old = RefreshToken(data["refresh_token"])
        except TokenError:
            raise AuthenticationFailed(
                "The refresh token is invalid, expired or already used; log in again."
            )

        # The user must still be active and still a member of the org.
        user = User.objects.filter(pk=old.get(jwt_settings.USER_ID_CLAIM)).first()
        if user is None or not user.is_active:
            raise AuthenticationFailed("This user is deactivated; log in again.")
        org = Organization.objects.filter(pk=old.get("org_id")).first()
        role = role_in_org(user=user, org=org) if org else None
        if role is None:
            raise AuthenticationFailed(
                "This user is no longer a member of the token's organisation."
            )

        # Rotation: blacklist the presented token so it works only once.
        # get_or_create on the unique blacklist row decides the race between
        # concurrent refreshes: only the request that creates it goes on.
        with transaction.atomic():
            _, created = old.blacklist()
        if not created:
            logger.warning("Refresh token of user %s was used twice", user.pk)
            raise AuthenticationFailed("The refresh token was already used.")
        return Response(_token_pair(user, org) | _user_data(user, org, role))


class LogoutView(APIView):
    """``POST /api/auth/logout``: blacklist the refresh token."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=RefreshSerializer,
        responses={
            200: inline_serializer("LogoutResponse", {"ok": serializers.BooleanField()})
        },
        tags=["auth"],
    )
    def post(self, request):
        data = _validated(RefreshSerializer, request)
        try:
            RefreshToken(data["refresh_token"]).blacklist()
        except TokenError:
            raise AuthenticationFailed(
                "The refresh token is invalid, expired or already logged out."
            )
        return Response({"ok": True})
