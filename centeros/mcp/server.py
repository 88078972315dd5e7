"""``centeros-mcp``: an MCP server that exposes CenterOS actions as tools.

At start-up the server fetches ``GET /api/actions`` with the configured
token (CENTEROS_TOKEN, or the login saved by ``centeros login``). Each action
the token's scopes allow becomes one tool with the action's name,
description and ``input_schema``, and tool annotations derived from its
risk. A tool call runs the action through the REST API and returns its JSON
(``data`` and, for lists, ``meta``) as text and as structured content; an API
error comes back as a tool error carrying the server's detail.

The server uses the low-level ``mcp.server.Server`` of the MCP Python SDK
(version 2), which takes explicit JSON schemas for tools. It serves stdio by
default, or streamable HTTP with ``--transport streamable-http``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
import threading
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from centeros import __version__
from centeros.client.api import CenterOSClient
from centeros.client.config import API_URL_ENV, TOKEN_ENV
from centeros.client.errors import APIError, CenterOSError, ConnectionFailed

logger = logging.getLogger(__name__)

SERVER_NAME = "centeros"

INSTRUCTIONS = (
    "Tools of the CenterOS robot-learning platform: datasets, training jobs, "
    "model registry, robot fleet, annotations, organisations and tokens. Each "
    "tool is one platform action; results are the action's JSON with 'data' "
    "and, for lists, 'meta' (total, limit, offset). Tools marked destructive "
    "delete or revoke; safety tools act on physical robots."
)


def tool_annotations(described: dict[str, Any]) -> types.ToolAnnotations:
    """Map an action's risk to MCP tool hints.

    ``read`` actions change nothing; ``write`` actions add or update;
    ``destructive`` ones delete or revoke; ``safety`` actions (such as an
    emergency stop) act on physical robots. An unknown risk gets the MCP
    defaults, which assume the worst.
    """
    risk = described.get("risk")
    title = described["name"].replace("_", " ").capitalize()
    if risk == "read":
        return types.ToolAnnotations(
            title=title,
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        )
    if risk == "write":
        return types.ToolAnnotations(
            title=title,
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        )
    if risk == "destructive":
        return types.ToolAnnotations(
            title=title,
            read_only_hint=False,
            destructive_hint=True,
            open_world_hint=False,
        )
    if risk == "safety":
        return types.ToolAnnotations(
            title=title,
            read_only_hint=False,
            destructive_hint=True,
            open_world_hint=True,
        )
    return types.ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=True
    )


def tool_for_action(described: dict[str, Any]) -> types.Tool:
    """Return the MCP tool of one action listed by ``GET /api/actions``."""
    schema = described.get("input_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        # MCP requires an object schema at the root of every tool's input.
        schema = {"type": "object", "properties": {}, "additionalProperties": False}

    description = str(described.get("description") or "").strip()
    scopes = ", ".join(described.get("scopes") or []) or "none"
    description += (
        f"\n\nCategory: {described.get('category')}. Risk: {described.get('risk')}. "
        f"Scopes: {scopes}."
    )
    return types.Tool(
        name=described["name"],
        description=description,
        input_schema=schema,
        annotations=tool_annotations(described),
    )


def _text_result(payload: dict[str, Any], *, is_error: bool) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(payload, indent=2, default=str))],
        structured_content=payload,
        is_error=is_error,
    )


def error_result(error: CenterOSError) -> types.CallToolResult:
    """Turn a client error into a tool error the model can read and act on."""
    if isinstance(error, APIError):
        payload: dict[str, Any] = {
            "ok": False,
            "status": error.status,
            "code": error.code,
            "detail": error.detail,
        }
        if error.errors:
            payload["errors"] = error.errors
    else:
        payload = {"ok": False, "code": "connection_failed", "detail": str(error)}
    return _text_result(payload, is_error=True)


class ActionToolServer:
    """The MCP server of one CenterOS token: its tools and how they are run."""

    def __init__(self, client: CenterOSClient, actions: list[dict[str, Any]]):
        self.client = client
        self.actions = {a["name"]: a for a in actions if a.get("name")}
        self.tools = [tool_for_action(a) for a in self.actions.values()]
        # httpx clients are shared between worker threads here; one call at a
        # time keeps the token refresh of a saved login free of races.
        self._lock = threading.Lock()
        self.server: Server[Any] = Server(
            SERVER_NAME,
            version=__version__,
            title="CenterOS",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            get_tool_input_schema=self.input_schema,
        )

    def input_schema(self, name: str) -> dict[str, Any] | None:
        described = self.actions.get(name)
        return described.get("input_schema") if described else None

    async def list_tools(
        self,
        ctx: ServerRequestContext[Any],
        params: types.PaginatedRequestParams | None,
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        arguments = params.arguments or {}
        if name not in self.actions:
            logger.info("Rejected a call of tool %r, which is not listed", name[:100])
            return _text_result(
                {
                    "ok": False,
                    "code": "unknown_tool",
                    "detail": (
                        f"Unknown tool {name[:100]!r}. This server lists only the "
                        "actions that its token's scopes allow; call tools/list "
                        "for them."
                    ),
                },
                is_error=True,
            )

        try:
            result = await anyio.to_thread.run_sync(self._call_action, name, arguments)
        except CenterOSError as error:
            logger.info("Tool %s failed: %s", name, error)
            return error_result(error)
        return _text_result(result.as_dict(), is_error=False)

    def _call_action(self, name: str, arguments: dict[str, Any]):
        with self._lock:
            return self.client.call_with_meta(name, arguments)


def build_server(client: CenterOSClient) -> ActionToolServer:
    """Fetch the token's actions and build the MCP server that lists them."""
    if not client.token:
        raise CenterOSError(
            f"centeros-mcp needs a token: set {TOKEN_ENV} to a personal access "
            "token, or run 'centeros login' first."
        )
    actions = client.list_actions()
    logger.info(
        "Serving %d actions of %s as MCP tools (token from %s)",
        len(actions),
        client.base_url,
        client.token_source,
    )
    return ActionToolServer(client, actions)


async def serve_stdio(tool_server: ActionToolServer) -> None:
    server = tool_server.server
    async with stdio_server() as (read_stream, write_stream):
        await server.run(
            read_stream, write_stream, server.create_initialization_options()
        )


def serve_streamable_http(tool_server: ActionToolServer, host: str, port: int) -> None:
    import uvicorn

    app = tool_server.server.streamable_http_app(host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="centeros-mcp",
        description=(
            "MCP server exposing the CenterOS actions that the token's scopes allow "
            f"as tools. Configure it with {API_URL_ENV} and {TOKEN_ENV}."
        ),
    )
    parser.add_argument(
        "--transport",
        choices=["stdio", "streamable-http"],
        default="stdio",
        help="MCP transport (default: stdio).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to listen on with streamable-http (default: 127.0.0.1).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8001,
        help="Port to listen on with streamable-http (default: 8001).",
    )
    parser.add_argument(
        "--api-url",
        help=f"Base URL of the CenterOS server (default: {API_URL_ENV}, then "
        "http://127.0.0.1:8000).",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Level of the log written to stderr (default: WARNING).",
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}.")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``centeros-mcp`` console script."""
    args = parse_args(argv)

    # stdout carries the protocol on stdio, so the log goes to stderr; httpx
    # stays at WARNING because it logs request URLs.
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    try:
        client = CenterOSClient(base_url=args.api_url)
        tool_server = build_server(client)
    except ConnectionFailed as error:
        print(f"centeros-mcp: {error}", file=sys.stderr)
        sys.exit(1)
    except CenterOSError as error:
        print(f"centeros-mcp: cannot start: {error}", file=sys.stderr)
        sys.exit(1)

    if args.transport == "stdio":
        anyio.run(serve_stdio, tool_server)
        return

    if not _is_loopback(args.host):
        logger.warning(
            "Listening on %s: the MCP endpoint has no authentication of its own, so "
            "anyone who can reach it can run this token's actions",
            args.host,
        )
    serve_streamable_http(tool_server, args.host, args.port)


if __name__ == "__main__":
    main()
