"""The ``centeros`` command line: a client of the CenterOS REST API.

Built-in commands handle login, tokens, action discovery and the long
transfers. Every action category of the server also becomes a command group,
generated from its JSON schemas by ``centeros.cli.generated``.

Exit codes: 0 on success, 1 when the API returned an error or could not be
reached (the detail is printed on stderr), 2 for a usage error.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from centeros import __version__
from centeros.agent.cli import agent as agent_command
from centeros.cli.generated import (
    CategoryGroup,
    parse_loose_value,
    strict_json_loads,
)
from centeros.cli.output import (
    emit,
    print_error,
    print_record,
    print_rows,
    stderr,
    stdout,
    warn,
)
from centeros.cli.state import configure_logging, state_of
from centeros.cli.transfers import upload_command, watch_command
from centeros.client.api import check_action_name
from centeros.client.config import API_URL_ENV, TOKEN_ENV
from centeros.client.errors import CenterOSError, ConfigError

logger = logging.getLogger(__name__)

# Groups that exist whether or not the server lists their category; their
# built-in commands sit beside the generated ones.
STATIC_SUBCOMMANDS: dict[str, dict[str, click.Command]] = {
    "datasets": {"upload": upload_command},
    "jobs": {"watch": watch_command},
}
STATIC_GROUP_HELP = {
    "datasets": "Upload dataset files, and run the actions of the datasets category.",
    "jobs": "Follow training jobs.",
}


def run_action(
    ctx: click.Context, name: str, params: dict[str, Any], as_json: bool = False
) -> None:
    """Run an action and print its result; the body of every generated command."""
    state = state_of(ctx)
    result = state.client().call_with_meta(name, params)
    emit(result.data, result.meta, as_json=as_json or state.as_json)


class RootGroup(click.Group):
    """The top-level group: built-in commands plus one group per category."""

    def _category_group(self, ctx: click.Context, name: str) -> CategoryGroup:
        def load_category(group_ctx: click.Context) -> list[dict[str, Any]]:
            return state_of(group_ctx).categories().get(name, [])

        return CategoryGroup(
            name,
            load_category=load_category,
            run=run_action,
            static=STATIC_SUBCOMMANDS.get(name),
            help=STATIC_GROUP_HELP.get(name),
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands) | set(STATIC_SUBCOMMANDS)
        try:
            names |= set(state_of(ctx).categories())
        except CenterOSError as error:
            # Help must work without a server, so print why the groups are missing.
            warn(f"The action command groups are not listed: {error}")
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in STATIC_SUBCOMMANDS:
            return self._category_group(ctx, cmd_name)
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in state_of(ctx).categories():
            return self._category_group(ctx, cmd_name)
        return None

    def invoke(self, ctx: click.Context) -> Any:
        state = state_of(ctx)
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            stderr.print(f"[red]Error:[/red] {error}")
            ctx.exit(2)
        except CenterOSError as error:
            logger.debug("Command failed", exc_info=True)
            print_error(error, token_source=state.token_source)
            ctx.exit(1)
        finally:
            state.close()


def _json_option(command: Any) -> Any:
    """Accept --json after the command name too, as generated commands do."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_state("as_json", only_if_true=True),
        help="Print the result as JSON.",
    )(command)


def _set_state(field: str, *, only_if_true: bool = False):
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if only_if_true and not value:
            return value
        setattr(state_of(ctx), field, value)
        if field == "verbose":
            configure_logging(value)
        return value

    return callback


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--api-url",
    envvar=API_URL_ENV,
    metavar="URL",
    is_eager=True,
    expose_value=False,
    callback=_set_state("api_url"),
    help=f"Base URL of the CenterOS server [env: {API_URL_ENV}; default: "
    "http://127.0.0.1:8000].",
)
@click.option(
    "--json",
    is_flag=True,
    expose_value=False,
    callback=_set_state("as_json"),
    help='Print results as JSON: {"data": ..., "meta": ...}.',
)
@click.option(
    "--refresh-schema",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_set_state("refresh_schema"),
    help="Fetch the action list again instead of using the cached copy.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    is_eager=True,
    expose_value=False,
    callback=_set_state("verbose"),
    help="Log more on stderr (-v info, -vv debug).",
)
@click.version_option(__version__, prog_name="centeros")
def cli() -> None:
    """Command line client of CenterOS.

    Authenticate with 'centeros login', or set CENTEROS_TOKEN to a personal
    access token (it takes precedence over a saved login). Every action
    category of the server is a command group below, for example
    'centeros datasets list --limit 20'; 'centeros run ACTION' runs any
    action by its name.
    """


# -- login, logout, whoami ---------------------------------------------------


@cli.command()
@_json_option
@click.option("-u", "--username", help="Username; prompted for when left out.")
@click.option(
    "--password",
    help="Password. Other users may see it in the process list: prefer the "
    "prompt or --password-stdin.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin.",
)
@click.option("--org", help="Organisation slug or id; defaults to your first one.")
@click.pass_context
def login(
    ctx: click.Context,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    org: str | None,
) -> None:
    """Log in with a username and password and save the tokens.

    The tokens are saved for this server URL in credentials.json in the
    CenterOS configuration folder, readable only by you. The access token is
    refreshed automatically with the saved refresh token.
    """
    if password and password_stdin:
        raise click.UsageError("Give either --password or --password-stdin, not both.")
    if username is None:
        username = click.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError(
                "--password-stdin read an empty password from stdin."
            )
    elif password is None:
        password = click.prompt("Password", hide_input=True)

    state = state_of(ctx)
    client = state.client()
    body = client.login(username, password, org)

    if state.as_json:
        emit(
            {k: body.get(k) for k in ("user", "org", "role", "scopes", "expires_in")},
            as_json=True,
        )
    else:
        org_info = body.get("org") or {}
        stdout.print(
            f"Logged in to {client.base_url} as {body['user']['username']} in "
            f"{org_info.get('name')} ({org_info.get('slug')}) with role {body.get('role')}."
        )
        stderr.print(f"Credentials saved in {client.credentials.path}.")
    if os.environ.get(TOKEN_ENV):
        warn(
            f"{TOKEN_ENV} is set and takes precedence over this login; unset it to "
            "use the login."
        )


@cli.command()
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Revoke the saved refresh token and delete the saved login."""
    state = state_of(ctx)
    client = state.client()
    had_login = client.credentials.get(client.base_url) is not None
    revoked = client.logout()
    if not had_login:
        stdout.print(f"There was no saved login for {client.base_url}.")
    elif revoked:
        stdout.print(f"Logged out of {client.base_url}.")
    else:
        stdout.print(
            f"Deleted the saved login for {client.base_url}; the server had "
            "already ended it."
        )


@cli.command()
@_json_option
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Show the user, organisation, role and scopes of the token in use."""
    state = state_of(ctx)
    client = state.client()
    data = client.call("whoami")
    if state.as_json:
        emit(data, as_json=True)
        return
    print_record(data)
    stderr.print(f"Token from: {client.token_source or 'none'}")


# -- personal access tokens ---------------------------------------------------


@cli.group()
def pat() -> None:
    """Create, list and revoke personal access tokens."""


def _parse_scopes(value: str) -> list[str]:
    scopes = [scope.strip() for scope in value.split(",") if scope.strip()]
    if not scopes:
        raise click.BadParameter(
            "Give at least one scope, such as 'datasets:read,training:read' or '*'.",
            param_hint="--scopes",
        )
    return scopes


@pat.command("create")
@_json_option
@click.option("--name", required=True, help="A name to recognise the token by.")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated scopes such as 'datasets:read,training:write', or '*' "
    "for all of yours.",
)
@click.option(
    "--expires-in-days",
    type=click.IntRange(min=1),
    help="Days until the token expires; no expiry when left out.",
)
@click.pass_context
def pat_create(
    ctx: click.Context, name: str, scopes: str, expires_in_days: int | None
) -> None:
    """Create a personal access token and print it once."""
    params: dict[str, Any] = {"name": name, "scopes": _parse_scopes(scopes)}
    if expires_in_days is not None:
        params["expires_in_days"] = expires_in_days

    state = state_of(ctx)
    data = state.client().call("create_pat", params)
    if state.as_json:
        emit(data, as_json=True)
    else:
        details = {k: v for k, v in data.items() if k != "token"}
        print_record(details)
        stdout.print(f"\nPAT created: {data['token']}")
    warn("This token is shown only now and will not be shown again; store it safely.")


@pat.command("list")
@_json_option
@click.option("--active", is_flag=True, help="Leave out revoked tokens.")
@click.option("--limit", type=click.IntRange(1, 200), help="Maximum number of tokens.")
@click.option("--offset", type=click.IntRange(min=0), help="Number of tokens to skip.")
@click.pass_context
def pat_list(
    ctx: click.Context, active: bool, limit: int | None, offset: int | None
) -> None:
    """List your personal access tokens in this organisation."""
    params: dict[str, Any] = {}
    if active:
        params["include_revoked"] = False
    if limit is not None:
        params["limit"] = limit
    if offset is not None:
        params["offset"] = offset
    run_action(ctx, "list_pats", params)


@pat.command("revoke")
@_json_option
@click.argument("pat_id", type=click.IntRange(min=1))
@click.pass_context
def pat_revoke(ctx: click.Context, pat_id: int) -> None:
    """Revoke the personal access token PAT_ID; it stops working at once."""
    state = state_of(ctx)
    data = state.client().call("revoke_pat", {"pat_id": pat_id})
    if state.as_json:
        emit(data, as_json=True)
    else:
        stdout.print(f"Revoked PAT {pat_id} ({data.get('name')}).")


# -- actions ---------------------------------------------------------------------


@cli.group()
def actions() -> None:
    """Discover the actions of the server."""


@actions.command("list")
@_json_option
@click.option("--category", help="Only the actions of this category.")
@click.pass_context
def actions_list(ctx: click.Context, category: str | None) -> None:
    """List the actions your token may run (all of them without a token)."""
    state = state_of(ctx)
    listed = state.client().list_actions(category)
    if state.as_json:
        emit(listed, as_json=True)
        return
    print_rows(
        [
            {
                "name": a.get("name"),
                "category": a.get("category"),
                "risk": a.get("risk"),
                "scopes": a.get("scopes"),
                "description": a.get("description"),
            }
            for a in listed
        ]
    )


@actions.command("describe")
@_json_option
@click.argument("name")
@click.pass_context
def actions_describe(ctx: click.Context, name: str) -> None:
    """Show one action with its parameters."""
    try:
        check_action_name(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME")
    state = state_of(ctx)
    described = state.client().describe_action(name)
    if state.as_json:
        emit(described, as_json=True)
        return

    schema = described.get("input_schema") or {}
    required = set(schema.get("required") or [])
    print_record({k: v for k, v in described.items() if k != "input_schema"})
    rows = []
    for prop, prop_schema in (schema.get("properties") or {}).items():
        rows.append(
            {
                "parameter": prop,
                "type": _type_label(prop_schema),
                "required": prop in required,
                "default": prop_schema.get("default"),
                "description": prop_schema.get("description"),
            }
        )
    stdout.print()
    print_rows(rows) if rows else stdout.print("No parameters.")


def _type_label(schema: dict[str, Any]) -> str:
    if isinstance(schema.get("anyOf"), list):
        return " | ".join(_type_label(branch) for branch in schema["anyOf"])
    if isinstance(schema.get("enum"), list):
        return "one of " + ", ".join(map(str, schema["enum"]))
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {_type_label(schema.get('items') or {})}"
    return kind


# -- run ---------------------------------------------------------------------------


def _parse_params(pairs: tuple[str, ...], params_json: str | None) -> dict[str, Any]:
    """Merge --params-json and --param key=value pairs (the pairs win)."""
    params: dict[str, Any] = {}
    if params_json is not None:
        try:
            parsed = strict_json_loads(params_json)
        except ValueError as error:
            raise click.BadParameter(
                f"not valid JSON ({error}).", param_hint="--params-json"
            )
        if not isinstance(parsed, dict):
            raise click.BadParameter(
                "must be a JSON object such as '{\"limit\": 5}'.",
                param_hint="--params-json",
            )
        params.update(parsed)

    seen: set[str] = set()
    for pair in pairs:
        key, separator, raw = pair.partition("=")
        key = key.strip()
        if not separator or not key:
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE, for example limit=5.", param_hint="--param"
            )
        if key in seen:
            raise click.BadParameter(
                f"{key!r} is given twice; pass a list as JSON, such as {key}='[1, 2]'.",
                param_hint="--param",
            )
        seen.add(key)
        params[key] = parse_loose_value(raw)
    return params


@cli.command()
@_json_option
@click.argument("action")
@click.option(
    "-p",
    "--param",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter; VALUE is read as JSON when it is valid JSON (5, true, "
    '[1,2], {"a":1}, "quoted text") and as a string otherwise. Repeatable.',
)
@click.option(
    "--params-json", metavar="JSON", help="All parameters as one JSON object."
)
@click.pass_context
def run(
    ctx: click.Context, action: str, pairs: tuple[str, ...], params_json: str | None
) -> None:
    """Run any ACTION by its name, such as list_datasets."""
    try:
        check_action_name(action)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="ACTION")
    run_action(ctx, action, _parse_params(pairs, params_json))


# The simulated robot speaks the agent protocol with a robot token, not the
# action layer, so it is a plain command beside the generated groups.
cli.add_command(agent_command)


def main() -> None:
    """Entry point of the ``centeros`` console script."""
    cli.main(prog_name="centeros")


if __name__ == "__main__":
    main()
