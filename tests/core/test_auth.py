"""JWT login, refresh, logout, PAT checks and effective scopes."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from orgs.models import Membership, PersonalAccessToken
from orgs.services import pat_create
from tests.conftest import ActionCaller
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-42"


def post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def member(org):
    return MembershipFactory(org=org, role="operator")


def login(client, member, **extra):
    body = {"username": member.user.username, "password": PASSWORD} | extra
    return post_json(client, "/api/auth/login", body)


def test_login_returns_token_pair_and_user(client, member):
    response = login(client, member)
    body = response.json()
    assert response.status_code == 200
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"]
    assert body["user"]["username"] == member.user.username
    assert body["org"]["slug"] == member.org.slug
    assert body["role"] == "operator"
    assert "orgs:read" not in body["scopes"]


def test_login_wrong_password_is_401(client, member):
    response = post_json(
        client,
        "/api/auth/login",
        {"username": member.user.username, "password": "wrong"},
    )
    assert response.status_code == 401
    assert response.json() == {
        "ok": False,
        "detail": "Invalid username or password.",
        "code": "not_authenticated",
    }


def test_login_missing_password_is_400(client, member):
    response = post_json(client, "/api/auth/login", {"username": "x"})
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_login_to_org_without_membership_is_401(client, member, other_org):
    response = login(client, member, org=other_org.slug)
    assert response.status_code == 401


def test_login_is_throttled(client, member, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "3/min",
        },
    }
    statuses = [
        post_json(
            client, "/api/auth/login", {"username": "nobody", "password": "x"}
        ).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429


def test_access_token_runs_actions_with_role_scopes(client, member):
    access = login(client, member).json()["access_token"]
    caller = ActionCaller(client, access)
    assert caller("whoami").data["role"] == "operator"
    assert caller("list_orgs").status == 403


def test_refresh_rotates_and_old_token_dies(client, member):
    refresh = login(client, member).json()["refresh_token"]
    first = post_json(client, "/api/auth/refresh", {"refresh_token": refresh})
    assert first.status_code == 200
    assert first.json()["refresh_token"] != refresh
    again = post_json(client, "/api/auth/refresh", {"refresh_token": refresh})
    assert again.status_code == 401


def test_refresh_for_deactivated_user_is_refused(client, member):
    refresh = login(client, member).json()["refresh_token"]
    member.user.is_active = False
    member.user.save()
    response = post_json(client, "/api/auth/refresh", {"refresh_token": refresh})
    assert response.status_code == 401


def test_refresh_after_removal_from_org_is_refused(client, member):
    refresh = login(client, member).json()["refresh_token"]
    member.delete()
    response = post_json(client, "/api/auth/refresh", {"refresh_token": refresh})
    assert response.status_code == 401


def test_logout_blacklists_refresh_token(client, member):
    refresh = login(client, member).json()["refresh_token"]
    assert (
        post_json(client, "/api/auth/logout", {"refresh_token": refresh}).status_code
        == 200
    )
    response = post_json(client, "/api/auth/refresh", {"refresh_token": refresh})
    assert response.status_code == 401


def test_access_token_of_deactivated_user_is_401(client, member):
    access = login(client, member).json()["access_token"]
    member.user.is_active = False
    member.user.save()
    assert ActionCaller(client, access)("whoami").status == 401


def test_access_token_after_removal_from_org_is_401(client, member):
    access = login(client, member).json()["access_token"]
    member.delete()
    assert ActionCaller(client, access)("whoami").status == 401


def test_tampered_access_token_is_401(client, member):
    access = login(client, member).json()["access_token"]
    assert ActionCaller(client, access[:-4] + "AAAA")("whoami").status == 401


# PATs


def test_pat_is_stored_only_as_hash(make_token, org):
    token = make_token(org=org)
    pat = make_token.last
    assert token.startswith("frl_")
    assert len(token) >= 4 + 32
    assert token not in json.dumps(
        list(PersonalAccessToken.objects.values()), default=str
    )
    assert pat.prefix == token[:12]


def test_revoked_pat_is_401_on_next_request(client, make_token, org):
    caller = ActionCaller(client, make_token(org=org))
    assert caller("whoami").status == 200
    PersonalAccessToken.objects.update(revoked_at=timezone.now())
    result = caller("whoami")
    assert result.status == 401
    assert "invalid, expired or revoked" in result.body["detail"]


def test_expired_pat_is_401(client, make_token, org):
    caller = ActionCaller(client, make_token(org=org))
    PersonalAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert caller("whoami").status == 401


def test_pat_of_deactivated_user_is_401(client, make_token, org):
    caller = ActionCaller(client, make_token(org=org))
    user = make_token.last.owner
    user.is_active = False
    user.save()
    assert caller("whoami").status == 401


def test_pat_of_removed_member_is_401(client, make_token, org):
    caller = ActionCaller(client, make_token(org=org))
    Membership.objects.filter(user=make_token.last.owner).delete()
    assert caller("whoami").status == 401


def test_unknown_pat_and_garbage_are_401(client):
    for token in ["frl_" + "x" * 43, "frl_short", "not-a-jwt"]:
        assert ActionCaller(client, token)("whoami").status == 401


def test_robot_token_is_rejected_on_actions(client):
    result = ActionCaller(client, "frr_" + "y" * 43)("whoami")
    assert result.status == 401
    assert "agent endpoints" in result.body["detail"]


def test_last_used_is_recorded(client, make_token, org):
    caller = ActionCaller(client, make_token(org=org))
    caller("whoami")
    assert PersonalAccessToken.objects.get().last_used_at is not None


def test_pat_hash_survives_secret_key_rotation(client, make_token, org, settings):
    token = make_token(org=org)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-for-rotation-" + "z" * 30
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert ActionCaller(client, token)("whoami").status == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert ActionCaller(client, token)("whoami").status == 401


# Effective scopes


@pytest.mark.parametrize(
    ("role", "scope", "allowed"),
    [
        ("admin", "orgs:write", True),
        ("operator", "datasets:write", True),
        ("operator", "models:write", False),
        ("operator", "orgs:read", False),
        ("annotator", "annotations:write", True),
        ("annotator", "training:read", False),
        ("viewer", "fleet:read", True),
        ("viewer", "fleet:write", False),
    ],
)
def test_effective_scopes_follow_role(client, make_token, org, role, scope, allowed):
    caller = ActionCaller(client, make_token(role=role, org=org))
    scopes = caller("whoami").data["scopes"]
    assert (scope in scopes) is allowed


def test_pat_scopes_never_exceed_role(client, make_token, org):
    caller = ActionCaller(client, make_token(role="viewer", scopes=["*"], org=org))
    scopes = caller("whoami").data["scopes"]
    assert all(scope.endswith(":read") for scope in scopes)


def test_role_change_takes_effect_at_once(client, make_token, org):
    caller = ActionCaller(client, make_token(role="admin", org=org))
    assert caller("list_orgs").status == 200
    Membership.objects.filter(user=make_token.last.owner).update(role="annotator")
    assert caller("list_orgs").status == 403


def test_pat_cannot_create_pat_with_more_scopes(client, make_token, org):
    caller = ActionCaller(client, make_token(scopes=["datasets:read"], org=org))
    result = caller("create_pat", {"name": "wider", "scopes": ["datasets:write"]})
    assert result.status == 403
    assert "datasets:write" in result.body["detail"]


def test_pat_can_create_pat_with_subset(client, make_token, org):
    caller = ActionCaller(
        client, make_token(scopes=["datasets:read", "fleet:read"], org=org)
    )
    result = caller("create_pat", {"name": "narrow", "scopes": ["datasets:read"]})
    assert result.status == 200
    token = result.data["token"]
    assert ActionCaller(client, token)("whoami").data["scopes"] == ["datasets:read"]


def test_create_pat_rejects_unknown_scope(call):
    result = call("create_pat", {"name": "x", "scopes": ["datasets:delete"]})
    assert result.status == 400
    assert "datasets:delete" in result.body["detail"]


def test_create_pat_token_shown_once(call):
    created = call("create_pat", {"name": "ci", "scopes": ["*"], "expires_in_days": 30})
    assert created.data["token"].startswith("frl_")
    listed = call("list_pats").data
    assert all("token" not in item for item in listed)
    assert any(item["name"] == "ci" and item["expires_at"] for item in listed)


def test_revoke_pat_then_twice_is_409(call):
    pat_id = call("create_pat", {"name": "tmp", "scopes": ["*"]}).data["id"]
    assert call("revoke_pat", {"pat_id": pat_id}).status == 200
    assert call("revoke_pat", {"pat_id": pat_id}).status == 409


def test_revoke_pat_of_another_user_is_404(call, make_token, org):
    make_token(org=org)
    other_pat = make_token.last
    assert call("revoke_pat", {"pat_id": other_pat.pk}).status == 404


def test_superuser_is_platform_superadmin(client, org, other_org):
    membership = MembershipFactory(org=org, role="viewer")
    membership.user.is_superuser = True
    membership.user.save()
    _, token = pat_create(owner=membership.user, org=org, name="su", scopes=["*"])
    caller = ActionCaller(client, token)
    assert caller("list_orgs").body["meta"]["total"] == 2
    members = caller("list_org_members", {"org_id": other_org.pk})
    assert members.status == 200


def test_second_org_membership_is_separate(client, make_token, org):
    second = OrganizationFactory()
    token = make_token(role="viewer", org=org)
    MembershipFactory(user=make_token.last.owner, org=second, role="admin")
    scopes = ActionCaller(client, token)("whoami").data["scopes"]
    assert "orgs:write" not in scopes
