"""The ``centeros`` CLI through its installed entry point, against a live server."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from tests.clients.conftest import free_port

pytestmark = pytest.mark.live


def _credentials(env: dict[str, str]) -> dict:
    from pathlib import Path

    path = Path(env["XDG_CONFIG_HOME"]) / "centeros" / "credentials.json"
    return json.loads(path.read_text())


def test_client_packages_import_no_server_code():
    code = (
        "import sys\n"
        "import centeros.client, centeros.cli.main, centeros.mcp.server\n"
        "server = [m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'orgs', 'datasets', 'training', 'fleet', "
        "'models_registry', 'annotations'} or m in {'centeros.settings', "
        "'centeros.actions', 'centeros.apps'}]\n"
        "print(sorted(server))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- login, whoami, logout ----------------------------------------------------


def test_login_with_password_on_stdin(cli, centeros_server, client_env):
    result = cli(
        "login", "-u", "ada", "--password-stdin", input=centeros_server.password + "\n"
    )

    assert result.returncode == 0, result.stderr
    assert "Logged in" in result.stdout
    assert "ada" in result.stdout
    saved = _credentials(client_env)["servers"][centeros_server.url]
    assert saved["access_token"]
    assert saved["refresh_token"]
    assert saved["org"]["slug"] == "pick-lab"


def test_login_saves_credentials_with_0600(logged_in_cli, client_env):
    from pathlib import Path

    path = Path(client_env["XDG_CONFIG_HOME"]) / "centeros" / "credentials.json"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_login_with_password_option(cli, centeros_server):
    result = cli("login", "-u", "ada", "--password", centeros_server.password, "--json")

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["data"]["role"] == "admin"
    assert "access_token" not in result.stdout


def test_login_wrong_password_exits_1(cli):
    result = cli("login", "-u", "ada", "--password-stdin", input="not-it\n")

    assert result.returncode == 1
    assert "Invalid username or password" in result.stderr


def test_whoami_after_login(logged_in_cli):
    body = logged_in_cli.json("whoami", "--json")

    assert body["data"]["user"]["username"] == "ada"
    assert body["data"]["token"]["kind"] == "jwt"


def test_expired_access_token_is_refreshed(logged_in_cli, centeros_server, client_env):
    from pathlib import Path

    path = Path(client_env["XDG_CONFIG_HOME"]) / "centeros" / "credentials.json"
    data = json.loads(path.read_text())
    entry = data["servers"][centeros_server.url]
    old_refresh = entry["refresh_token"]
    # A token with a broken signature is rejected like an expired one.
    entry["access_token"] = entry["access_token"][:-6] + "AAAAAA"
    path.write_text(json.dumps(data))

    body = logged_in_cli.json("whoami", "--json")

    assert body["data"]["user"]["username"] == "ada"
    new_entry = _credentials(client_env)["servers"][centeros_server.url]
    assert new_entry["refresh_token"] != old_refresh
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_logout_forgets_the_login(logged_in_cli, centeros_server, client_env):
    result = logged_in_cli("logout")

    assert result.returncode == 0, result.stderr
    assert centeros_server.url not in _credentials(client_env)["servers"]
    after = logged_in_cli("whoami")
    assert after.returncode == 1
    assert "centeros login" in after.stderr


def test_env_token_takes_precedence_over_login(logged_in_cli, centeros_server):
    body = logged_in_cli.json(
        "whoami", "--json", env={"CENTEROS_TOKEN": centeros_server.read_token}
    )

    assert body["data"]["token"]["kind"] == "pat"
    assert body["data"]["scopes"] == ["datasets:read"]


# -- personal access tokens ----------------------------------------------------


def test_pat_create_prints_token_once_and_it_works(logged_in_cli):
    result = logged_in_cli(
        "pat", "create", "--name", "ci-runner", "--scopes", "datasets:read,stats:read"
    )

    assert result.returncode == 0, result.stderr
    created_line = next(
        line for line in result.stdout.splitlines() if line.startswith("PAT created:")
    )
    token = created_line.split()[-1]
    assert "will not be shown again" in result.stderr

    body = logged_in_cli.json("whoami", "--json", env={"CENTEROS_TOKEN": token})
    assert body["data"]["token"]["kind"] == "pat"
    assert body["data"]["scopes"] == ["datasets:read", "stats:read"]


def test_pat_list_and_revoke(logged_in_cli):
    created = logged_in_cli.json(
        "pat",
        "create",
        "--name",
        "short-lived",
        "--scopes",
        "*",
        "--expires-in-days",
        "1",
        "--json",
    )["data"]

    listed = logged_in_cli.json("pat", "list", "--json")["data"]
    assert created["id"] in [row["id"] for row in listed]
    assert "token" not in listed[0]

    revoked = logged_in_cli("pat", "revoke", str(created["id"]))
    assert revoked.returncode == 0, revoked.stderr

    rejected = logged_in_cli("whoami", env={"CENTEROS_TOKEN": created["token"]})
    assert rejected.returncode == 1
    assert "revoked" in rejected.stderr
    assert "CENTEROS_TOKEN" in rejected.stderr


def test_pat_create_beyond_own_scopes_is_403(cli, centeros_server):
    result = cli(
        "pat",
        "create",
        "--name",
        "escalate",
        "--scopes",
        "orgs:write",
        env={"CENTEROS_TOKEN": centeros_server.read_token},
    )

    assert result.returncode == 1
    assert "orgs:write" in result.stderr


# -- run -------------------------------------------------------------------------


def test_run_whoami(cli, centeros_server):
    body = cli.json(
        "run", "whoami", "--json", env={"CENTEROS_TOKEN": centeros_server.full_token}
    )

    assert body["data"]["user"]["username"] == "ada"


def test_run_with_params_json(cli, centeros_server):
    body = cli.json(
        "--json",
        "run",
        "list_pats",
        "--params-json",
        '{"limit": 1, "offset": 0}',
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert body["meta"]["limit"] == 1
    assert len(body["data"]) == 1


def test_run_with_typed_params(cli, centeros_server):
    body = cli.json(
        "--json",
        "run",
        "list_pats",
        "-p",
        "limit=2",
        "-p",
        "include_revoked=false",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert body["meta"]["limit"] == 2
    assert all(row["revoked_at"] is None for row in body["data"])


def test_run_invalid_param_exits_1_naming_it(cli, centeros_server):
    result = cli(
        "run",
        "list_pats",
        "-p",
        "colour=blue",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 1
    assert "colour" in result.stderr


def test_run_unknown_action_exits_1(cli, centeros_server):
    result = cli(
        "run", "fly_to_moon", env={"CENTEROS_TOKEN": centeros_server.full_token}
    )

    assert result.returncode == 1
    assert "Unknown action" in result.stderr


def test_run_param_without_equals_is_usage_error(cli, centeros_server):
    result = cli(
        "run",
        "whoami",
        "-p",
        "limit",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr


# -- generated category commands -----------------------------------------------


def test_category_groups_listed_in_help(cli, centeros_server):
    result = cli("--help", env={"CENTEROS_TOKEN": centeros_server.full_token})

    assert result.returncode == 0, result.stderr
    assert "tokens" in result.stdout
    assert "orgs" in result.stdout


def test_tokens_group_has_generated_commands(cli, centeros_server):
    result = cli("tokens", "--help", env={"CENTEROS_TOKEN": centeros_server.full_token})

    assert result.returncode == 0, result.stderr
    for command in ("whoami", "list-pats", "create-pat", "revoke-pat"):
        assert command in result.stdout


def test_generated_command_options_from_schema(cli, centeros_server):
    result = cli(
        "tokens",
        "list-pats",
        "--help",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 0, result.stderr
    assert "--limit" in result.stdout
    assert "--include-revoked / --no-include-revoked" in result.stdout
    assert "1<=x<=200" in result.stdout


def test_orgs_list_members(cli, centeros_server):
    body = cli.json(
        "orgs",
        "list-members",
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert [row["username"] for row in body["data"]] == ["ada"]
    assert body["meta"]["total"] == 1


def test_generated_command_forbidden_org_exits_1(cli, centeros_server):
    result = cli(
        "orgs",
        "list-members",
        "--org-id",
        str(centeros_server.other_org_id),
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 1
    assert f"organisation {centeros_server.other_org_id}" in result.stderr


def test_full_action_name_is_an_alias(cli, centeros_server):
    body = cli.json(
        "tokens",
        "list_pats",
        "--limit",
        "1",
        "--json",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert body["meta"]["limit"] == 1


def test_generated_option_out_of_range_is_usage_error(cli, centeros_server):
    result = cli(
        "tokens",
        "list-pats",
        "--limit",
        "0",
        env={"CENTEROS_TOKEN": centeros_server.full_token},
    )

    assert result.returncode == 2
    assert "--limit" in result.stderr


def test_groups_follow_token_scopes(cli, centeros_server):
    result = cli("orgs", "--help", env={"CENTEROS_TOKEN": centeros_server.read_token})

    # orgs:read is not granted, so the server does not list the orgs actions.
    assert result.returncode == 2
    assert "No such command 'orgs'" in result.stderr


def test_schema_cache_used_until_refreshed(cli, centeros_server, client_env):
    from pathlib import Path

    env = {"CENTEROS_TOKEN": centeros_server.full_token}
    assert cli("tokens", "--help", env=env).returncode == 0
    cache_files = list(
        (Path(client_env["XDG_CACHE_HOME"]) / "centeros").glob("actions-*.json")
    )
    assert len(cache_files) == 1

    # An action added to the cached listing shows up without a request...
    cached = json.loads(cache_files[0].read_text())
    cached["actions"].append(
        {
            "name": "count_tokens",
            "category": "tokens",
            "description": "Count tokens.",
            "scopes": ["authenticated"],
            "risk": "read",
            "input_schema": {"type": "object", "properties": {}},
        }
    )
    cache_files[0].write_text(json.dumps(cached))
    assert "count" in cli("tokens", "--help", env=env).stdout

    # ...and --refresh-schema replaces the listing with the server's.
    refreshed = cli("--refresh-schema", "tokens", "--help", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "count" not in refreshed.stdout


# -- errors ----------------------------------------------------------------------


def test_bad_token_exits_1_with_message(cli):
    result = cli("whoami", env={"CENTEROS_TOKEN": "frl_" + "x" * 43})

    assert result.returncode == 1
    assert "invalid, expired or revoked" in result.stderr
    assert "CENTEROS_TOKEN" in result.stderr


def test_unknown_option_exits_2(cli, centeros_server):
    result = cli(
        "whoami", "--colour", env={"CENTEROS_TOKEN": centeros_server.full_token}
    )

    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_unreachable_server_exits_1(cli, centeros_server):
    dead_url = f"http://127.0.0.1:{free_port()}"

    result = cli(
        "whoami",
        env={
            "CENTEROS_API_URL": dead_url,
            "CENTEROS_TOKEN": centeros_server.full_token,
        },
    )

    assert result.returncode == 1
    assert f"Could not reach the CenterOS server at {dead_url}" in result.stderr
    assert "CENTEROS_API_URL" in result.stderr


def test_invalid_api_url_is_usage_error(cli):
    result = cli("whoami", env={"CENTEROS_API_URL": "ftp://example.invalid"})

    assert result.returncode == 2
    assert "http or https URL" in result.stderr


def test_help_works_without_server(cli):
    dead_url = f"http://127.0.0.1:{free_port()}"

    result = cli("--help", env={"CENTEROS_API_URL": dead_url})

    assert result.returncode == 0
    assert "login" in result.stdout
    assert "Could not reach" in result.stderr
