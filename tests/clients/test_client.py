"""``CenterOSClient`` against a live server: errors, retries, login and refresh."""

from __future__ import annotations

import logging
import stat

import httpx
import pytest

from centeros.client import (
    BadRequest,
    CenterOSClient,
    Conflict,
    ConnectionFailed,
    CredentialStore,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TokenSource,
    Unauthorized,
)
from tests.clients.conftest import free_port

pytestmark = pytest.mark.live


@pytest.fixture
def store(tmp_path) -> CredentialStore:
    return CredentialStore(tmp_path / "config" / "centeros")


@pytest.fixture
def api(centeros_server, store) -> CenterOSClient:
    client = CenterOSClient(
        centeros_server.url, token=centeros_server.full_token, credentials=store
    )
    yield client
    client.close()


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# -- results and typed errors --------------------------------------------------


def test_call_returns_data(api):
    data = api.call("whoami")

    assert data["user"]["username"] == "ada"
    assert data["token"]["kind"] == "pat"


def test_call_with_meta_returns_page(api):
    result = api.call_with_meta("list_pats", {"limit": 1})

    assert result.meta["limit"] == 1
    assert result.meta["total"] >= 2
    assert len(result.data) == 1


def test_list_actions_by_category(api):
    names = {action["name"] for action in api.list_actions("tokens")}

    assert {"whoami", "list_pats", "create_pat", "revoke_pat"} <= names
    assert all(action["category"] == "tokens" for action in api.list_actions("tokens"))


def test_describe_action_has_schema(api):
    described = api.describe_action("revoke_pat")

    assert described["risk"] == "destructive"
    assert described["input_schema"]["required"] == ["pat_id"]


def test_bad_request_carries_field_errors(api):
    with pytest.raises(BadRequest) as raised:
        api.call("list_pats", {"limit": "many"})

    assert raised.value.status == 400
    assert raised.value.code == "invalid"
    assert "limit" in raised.value.errors


def test_unauthorized_for_unknown_token(centeros_server, store):
    client = CenterOSClient(
        centeros_server.url, token="frl_" + "y" * 43, credentials=store
    )

    with pytest.raises(Unauthorized) as raised:
        client.call("whoami")

    assert raised.value.status == 401


def test_forbidden_for_other_org(api, centeros_server):
    with pytest.raises(Forbidden) as raised:
        api.call("list_org_members", {"org_id": centeros_server.other_org_id})

    assert raised.value.code == "permission_denied"


def test_not_found_for_unknown_action(api):
    with pytest.raises(NotFound) as raised:
        api.call("teleport_robot")

    assert raised.value.code == "unknown_action"


def test_not_found_for_missing_resource(api):
    with pytest.raises(NotFound):
        api.call("get_dataset", {"dataset_id": 987654})


def test_conflict_for_existing_member(api, centeros_server):
    with pytest.raises(Conflict):
        api.call(
            "invite_member",
            {"org_id": centeros_server.org_id, "email": "ada@example.com"},
        )


def test_payload_too_large_for_huge_upload(api):
    with pytest.raises(PayloadTooLarge) as raised:
        api.call(
            "get_upload_signed_url", {"filename": "huge.hdf5", "file_size": 10**15}
        )

    assert raised.value.status == 413


def test_invalid_action_name_rejected_locally(api):
    with pytest.raises(ValueError, match="lowercase words"):
        api.call("../admin")


# -- connection errors and retries ---------------------------------------------


def test_connection_failed_names_url(dead_url, store):
    client = CenterOSClient(
        dead_url, token="frl_" + "z" * 43, retries=0, credentials=store
    )

    with pytest.raises(ConnectionFailed) as raised:
        client.call("whoami")

    assert dead_url in str(raised.value)
    assert "CENTEROS_API_URL" in str(raised.value)


def test_read_action_retried_after_connection_error(api, dead_url, store, caplog):
    client = CenterOSClient(
        dead_url, token="frl_" + "z" * 43, retries=2, credentials=store
    )
    # The risk of each action comes from the live server's listing.
    client.remember_actions(api.list_actions())

    with caplog.at_level(logging.WARNING, logger="centeros.client.api"):
        with pytest.raises(ConnectionFailed):
            client.call("list_pats")

    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2


def test_write_action_not_retried(api, dead_url, store, caplog):
    client = CenterOSClient(
        dead_url, token="frl_" + "z" * 43, retries=2, credentials=store
    )
    client.remember_actions(api.list_actions())

    with caplog.at_level(logging.WARNING, logger="centeros.client.api"):
        with pytest.raises(ConnectionFailed):
            client.call("create_pat", {"name": "never", "scopes": ["*"]})

    assert not [r for r in caplog.records if "retry" in r.getMessage()]


def test_get_retried_after_connection_error(dead_url, store, caplog):
    client = CenterOSClient(dead_url, retries=1, credentials=store)

    with caplog.at_level(logging.WARNING, logger="centeros.client.api"):
        with pytest.raises(ConnectionFailed):
            client.list_actions()

    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 1


# -- login, refresh, logout --------------------------------------------------------


def test_login_saves_private_credentials(centeros_server, store):
    client = CenterOSClient(centeros_server.url, credentials=store)

    body = client.login("ada", centeros_server.password)

    assert body["org"]["slug"] == "pick-lab"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert store.get(centeros_server.url)["refresh_token"] == body["refresh_token"]


def test_saved_login_used_by_new_client(centeros_server, store, monkeypatch):
    monkeypatch.delenv("CENTEROS_TOKEN", raising=False)
    CenterOSClient(centeros_server.url, credentials=store).login(
        "ada", centeros_server.password
    )

    client = CenterOSClient(centeros_server.url, credentials=store)

    assert client.token_source == TokenSource.SAVED_LOGIN
    assert client.call("whoami")["token"]["kind"] == "jwt"


def test_env_token_beats_saved_login(centeros_server, store, monkeypatch):
    CenterOSClient(centeros_server.url, credentials=store).login(
        "ada", centeros_server.password
    )
    monkeypatch.setenv("CENTEROS_TOKEN", centeros_server.read_token)

    client = CenterOSClient(centeros_server.url, credentials=store)

    assert client.token_source == TokenSource.ENVIRONMENT
    assert client.call("whoami")["scopes"] == ["datasets:read"]


def test_refresh_rotates_refresh_token(centeros_server, store):
    client = CenterOSClient(centeros_server.url, credentials=store)
    old = client.login("ada", centeros_server.password)["refresh_token"]

    client.refresh()

    assert store.get(centeros_server.url)["refresh_token"] != old
    reused = httpx.post(
        f"{centeros_server.url}/api/auth/refresh", json={"refresh_token": old}
    )
    assert reused.status_code == 401


def test_rejected_access_token_refreshed_once(centeros_server, store, monkeypatch):
    monkeypatch.delenv("CENTEROS_TOKEN", raising=False)
    CenterOSClient(centeros_server.url, credentials=store).login(
        "ada", centeros_server.password
    )
    entry = store.get(centeros_server.url)
    entry["access_token"] = entry["access_token"][:-6] + "BBBBBB"
    store.save(centeros_server.url, entry)
    client = CenterOSClient(centeros_server.url, credentials=store)

    data = client.call("whoami")

    assert data["user"]["username"] == "ada"
    assert store.get(centeros_server.url)["refresh_token"] != entry["refresh_token"]


def test_expired_access_token_refreshed_before_request(
    centeros_server, store, monkeypatch
):
    monkeypatch.delenv("CENTEROS_TOKEN", raising=False)
    CenterOSClient(centeros_server.url, credentials=store).login(
        "ada", centeros_server.password
    )
    entry = store.get(centeros_server.url)
    entry["expires_at"] = 0
    store.save(centeros_server.url, entry)
    client = CenterOSClient(centeros_server.url, credentials=store)

    client.call("whoami")

    assert store.get(centeros_server.url)["access_token"] != entry["access_token"]


def test_spent_refresh_token_gives_unauthorized(centeros_server, store, monkeypatch):
    monkeypatch.delenv("CENTEROS_TOKEN", raising=False)
    client = CenterOSClient(centeros_server.url, credentials=store)
    client.login("ada", centeros_server.password)
    entry = store.get(centeros_server.url)
    httpx.post(
        f"{centeros_server.url}/api/auth/logout",
        json={"refresh_token": entry["refresh_token"]},
    )
    entry["access_token"] = entry["access_token"][:-6] + "CCCCCC"
    store.save(centeros_server.url, entry)

    with pytest.raises(Unauthorized):
        CenterOSClient(centeros_server.url, credentials=store).call("whoami")


def test_logout_revokes_and_forgets(centeros_server, store):
    client = CenterOSClient(centeros_server.url, credentials=store)
    refresh_token = client.login("ada", centeros_server.password)["refresh_token"]

    assert client.logout() is True

    assert store.get(centeros_server.url) is None
    reused = httpx.post(
        f"{centeros_server.url}/api/auth/refresh", json={"refresh_token": refresh_token}
    )
    assert reused.status_code == 401


def test_wrong_password_is_unauthorized(centeros_server, store):
    client = CenterOSClient(centeros_server.url, credentials=store)

    with pytest.raises(Unauthorized):
        client.login("ada", "wrong-password")

    assert store.get(centeros_server.url) is None
