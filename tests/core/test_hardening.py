"""Abuse cases: token families, refresh races, odd input and error pages."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orgs.models import PersonalAccessToken, User
from tests.conftest import ActionCaller
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def post_json(client, path, body, **headers):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", **headers
    )


# PAT families


def test_child_pat_expires_with_parent(client, make_token, org):
    parent = make_token(org=org)
    PersonalAccessToken.objects.update(expires_at=timezone.now() + timedelta(days=1))
    child = ActionCaller(client, parent)(
        "create_pat", {"name": "child", "scopes": ["datasets:read"]}
    )
    assert child.status == 200
    assert child.data["expires_at"] is not None


def test_revoking_parent_revokes_child(client, make_token, org):
    parent = make_token(org=org)
    parent_id = make_token.last.pk
    caller = ActionCaller(client, parent)
    child = caller("create_pat", {"name": "child", "scopes": ["*"]}).data["token"]
    grandchild = ActionCaller(client, child)(
        "create_pat", {"name": "grandchild", "scopes": ["datasets:read"]}
    ).data["token"]
    assert caller("revoke_pat", {"pat_id": parent_id}).status == 200
    assert ActionCaller(client, child)("whoami").status == 401
    assert ActionCaller(client, grandchild)("whoami").status == 401


def test_wildcard_from_pat_means_its_scopes(client, make_token, org):
    narrow = make_token(scopes=["datasets:read", "fleet:read"], org=org)
    result = ActionCaller(client, narrow)("create_pat", {"name": "c", "scopes": ["*"]})
    assert result.status == 200
    assert result.data["scopes"] == ["datasets:read", "fleet:read"]


def test_narrow_pat_cannot_revoke_wider(client, make_token, org):
    wide = make_token(org=org)
    wide_id = make_token.last.pk
    narrow = ActionCaller(client, wide)(
        "create_pat", {"name": "narrow", "scopes": ["datasets:read"]}
    ).data["token"]
    result = ActionCaller(client, narrow)("revoke_pat", {"pat_id": wide_id})
    assert result.status == 403
    assert ActionCaller(client, wide)("whoami").status == 200


def test_narrow_pat_lists_only_narrower(client, make_token, org):
    wide = make_token(org=org)
    narrow = ActionCaller(client, wide)(
        "create_pat", {"name": "narrow", "scopes": ["datasets:read"]}
    ).data["token"]
    names = [p["name"] for p in ActionCaller(client, narrow)("list_pats").data]
    assert names == ["narrow"]


def test_viewer_jwt_can_create_wildcard_pat(client, org):
    membership = MembershipFactory(org=org, role="viewer")
    login = post_json(
        client,
        "/api/auth/login",
        {"username": membership.user.username, "password": "correct-horse-42"},
    ).json()
    result = ActionCaller(client, login["access_token"])(
        "create_pat", {"name": "all", "scopes": ["*"]}
    )
    assert result.status == 200
    token = result.data["token"]
    scopes = ActionCaller(client, token)("whoami").data["scopes"]
    assert all(scope.endswith(":read") for scope in scopes)


# Refresh races


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_has_one_winner(client, org):
    from django.test import Client

    membership = MembershipFactory(org=org, role="viewer")
    refresh = post_json(
        client,
        "/api/auth/login",
        {"username": membership.user.username, "password": "correct-horse-42"},
    ).json()["refresh_token"]
    statuses = []
    barrier = threading.Barrier(6)

    def attempt():
        barrier.wait()
        response = post_json(Client(), "/api/auth/refresh", {"refresh_token": refresh})
        statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401, 401, 401]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_invites_of_new_email(client, make_token, org):
    from django.test import Client

    token = make_token(org=org)
    statuses = []
    barrier = threading.Barrier(6)

    def attempt():
        barrier.wait()
        result = ActionCaller(Client(), token)(
            "invite_member", {"org_id": org.pk, "email": "race@example.com"}
        )
        statuses.append(result.status)
        connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    assert User.objects.filter(email="race@example.com").count() == 1


# Odd input


def test_login_with_unicode_digit_org_is_401(client, org):
    membership = MembershipFactory(org=org)
    response = post_json(
        client,
        "/api/auth/login",
        {
            "username": membership.user.username,
            "password": "correct-horse-42",
            "org": "²",
        },
    )
    assert response.status_code == 401


def test_deeply_nested_body_is_400(call):
    raw = '{"params": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = call("whoami", body=raw)
    assert result.status == 400
    assert "too deeply" in result.body["detail"]


def test_oversized_body_is_413(call, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    result = call("whoami", body={"params": {}, "pad": "x" * 5000})
    assert result.status == 413


def test_nul_in_json_object_param_is_400(call):
    result = call("create_annotation_task", {"title": "t", "labels": {"k\u0000": 1}})
    assert result.status == 400
    assert "labels" in result.body["errors"]


def test_surrogate_in_assignee_filter_is_400(call):
    result = call("list_annotation_tasks", body='{"params": {"assignee": "\\ud800"}}')
    assert result.status == 400


# Error pages and rate limits


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["ok"] is False


def test_health_rejects_post(client):
    assert client.post("/api/health").status_code == 405


def test_login_throttle_ignores_forwarded_for(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "2/min",
        },
    }
    statuses = [
        post_json(
            client,
            "/api/auth/login",
            {"username": "nobody", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{index}",
        ).status_code
        for index in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_signed_url_token_not_logged_on_404(client, caplog):
    token = "abcDEF123.secret-signature"
    client.put(f"/api/uploads/{token}/extra", data=b"x", content_type="text/plain")
    client.get(f"/API/uploads/{token}/")
    assert "/api/uploads/[redacted]" in caplog.text
    assert token not in caplog.text


def test_admin_login_is_throttled(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "2/min",
        },
    }
    form = {"username": "nobody", "password": "x"}
    statuses = [client.post("/admin/login/", form).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_json_nested_past_limit_is_400(call):
    from centeros.actions.parsers import MAX_JSON_DEPTH

    deep = "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5)
    raw = '{"params": {"robot_id": "deep", "metadata": {"x": ' + deep + "}}}"
    result = call("register_robot", body=raw)
    assert result.status == 400
    assert "levels deep" in result.body["detail"]
