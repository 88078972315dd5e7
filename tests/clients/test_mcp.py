"""``centeros-mcp`` through a real MCP client session, against a live server."""

from __future__ import annotations

import json
import subprocess
import time

import anyio
import httpx
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from tests.clients.conftest import free_port, mcp_command

pytestmark = pytest.mark.live

RISK_HINTS = {
    "read": {"read_only_hint": True, "destructive_hint": False},
    "write": {"read_only_hint": False, "destructive_hint": False},
    "destructive": {"read_only_hint": False, "destructive_hint": True},
    "safety": {"read_only_hint": False, "destructive_hint": True},
}


def _listing(url: str, token: str) -> dict[str, dict]:
    response = httpx.get(
        f"{url}/api/actions", headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    return {action["name"]: action for action in response.json()["data"]}


def _session_run(client_env: dict[str, str], token: str, work):
    """Start centeros-mcp over stdio, open a session and return ``work(session)``."""
    command = mcp_command()
    params = StdioServerParameters(
        command=command[0],
        args=command[1:],
        env={**client_env, "CENTEROS_TOKEN": token},
    )

    async def main():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return anyio.run(main)


def _tools(client_env, token) -> dict:
    async def work(session):
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    return _session_run(client_env, token, work)


def _call(client_env, token, name, arguments):
    async def work(session):
        return await session.call_tool(name, arguments)

    return _session_run(client_env, token, work)


# -- tools ---------------------------------------------------------------------------


def test_tools_match_action_listing(client_env, centeros_server):
    listing = _listing(centeros_server.url, centeros_server.full_token)

    tools = _tools(client_env, centeros_server.full_token)

    assert set(tools) == set(listing)
    for name, tool in tools.items():
        assert tool.input_schema == listing[name]["input_schema"]
        assert tool.description.startswith(listing[name]["description"])


def test_tool_annotations_follow_risk(client_env, centeros_server):
    listing = _listing(centeros_server.url, centeros_server.full_token)

    tools = _tools(client_env, centeros_server.full_token)

    for name, tool in tools.items():
        expected = RISK_HINTS[listing[name]["risk"]]
        assert tool.annotations.read_only_hint is expected["read_only_hint"], name
        assert tool.annotations.destructive_hint is expected["destructive_hint"], name


def test_read_token_sees_strict_subset(client_env, centeros_server):
    full_listing = _listing(centeros_server.url, centeros_server.full_token)

    full = _tools(client_env, centeros_server.full_token)
    read = _tools(client_env, centeros_server.read_token)

    assert set(read) < set(full)
    assert set(read) == set(_listing(centeros_server.url, centeros_server.read_token))
    assert {"list_datasets", "get_dataset"} <= set(read)
    # No tool of the read token needs a write scope. The token actions
    # (create_pat, revoke_pat) need only authentication and stay listed.
    for name in read:
        assert not any(s.endswith(":write") for s in full_listing[name]["scopes"]), name
    assert "delete_dataset" not in read
    assert "get_upload_signed_url" not in read


# -- calls ---------------------------------------------------------------------------


def test_call_whoami(client_env, centeros_server):
    result = _call(client_env, centeros_server.full_token, "whoami", {})

    assert result.is_error is False
    assert result.structured_content["data"]["user"]["username"] == "ada"
    assert result.structured_content["data"]["token"]["kind"] == "pat"
    assert json.loads(result.content[0].text) == result.structured_content


def test_call_list_returns_meta(client_env, centeros_server):
    result = _call(client_env, centeros_server.full_token, "list_pats", {"limit": 1})

    assert result.is_error is False
    assert result.structured_content["meta"]["limit"] == 1
    assert len(result.structured_content["data"]) == 1


def test_forbidden_org_is_tool_error(client_env, centeros_server):
    result = _call(
        client_env,
        centeros_server.full_token,
        "list_org_members",
        {"org_id": centeros_server.other_org_id},
    )

    assert result.is_error is True
    assert result.structured_content["status"] == 403
    assert f"organisation {centeros_server.other_org_id}" in result.content[0].text


def test_scope_escalation_is_tool_error(client_env, centeros_server):
    result = _call(
        client_env,
        centeros_server.read_token,
        "create_pat",
        {"name": "escalate", "scopes": ["orgs:write"]},
    )

    assert result.is_error is True
    assert result.structured_content["status"] == 403
    assert "orgs:write" in result.structured_content["detail"]


def test_bad_params_are_tool_error(client_env, centeros_server):
    result = _call(
        client_env, centeros_server.full_token, "list_pats", {"limit": "all"}
    )

    assert result.is_error is True
    assert result.structured_content["status"] == 400
    assert "limit" in result.structured_content["errors"]


def test_unlisted_tool_is_tool_error(client_env, centeros_server):
    result = _call(client_env, centeros_server.read_token, "list_org_members", {})

    assert result.is_error is True
    assert result.structured_content["code"] == "unknown_tool"


# -- start-up ------------------------------------------------------------------------


def test_start_without_token_fails(client_env):
    result = subprocess.run(
        mcp_command(), env=client_env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "CENTEROS_TOKEN" in result.stderr


def test_start_with_rejected_token_fails(client_env):
    result = subprocess.run(
        mcp_command(),
        env={**client_env, "CENTEROS_TOKEN": "frl_" + "q" * 43},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "invalid, expired or revoked" in result.stderr


def test_streamable_http_transport(client_env, centeros_server):
    port = free_port()
    process = subprocess.Popen(
        [*mcp_command(), "--transport", "streamable-http", "--port", str(port)],
        env={**client_env, "CENTEROS_TOKEN": centeros_server.full_token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    async def main():
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            tools = await client.list_tools()
            result = await client.call_tool("whoami", {})
            return tools, result

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the MCP server did not start"
                time.sleep(0.2)
        tools, result = anyio.run(main)
    finally:
        process.terminate()
        process.wait(timeout=10)

    listing = _listing(centeros_server.url, centeros_server.full_token)
    assert {tool.name for tool in tools.tools} == set(listing)
    assert result.structured_content["data"]["user"]["username"] == "ada"
