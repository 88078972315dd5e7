"""Command groups generated at run time from the server's action schemas.

Every action category becomes a group (``centeros datasets``) and every
action a command in it, with one option per property of its
``input_schema``. A new action on the server therefore appears in the CLI
without a client release.

Command names: the action name, with ``_`` turned into ``-``, after removing
the words that name the category (the category itself and its singular,
``datasets`` and ``dataset``). ``list_datasets`` becomes ``datasets list``,
``list_org_members`` becomes ``orgs list-members`` and
``get_upload_signed_url`` keeps its full name. If nothing is left, or the
result collides with a built-in command of the group or with another
action's name, the full action name is used. The full action name (with
``_`` or ``-``) always works as an alias.

Options: ``--name-with-dashes`` per property. Integers and numbers get
their range checked, booleans become ``--flag/--no-flag``, enums a choice,
arrays take comma-separated or repeated values (or one JSON array), objects
take JSON. Options that are left out are not sent, so the server applies its
defaults.

The listing is cached per server URL and token for ``SCHEMA_CACHE_SECONDS``
so that a command starts without waiting for the server; ``--refresh-schema``
fetches it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import click

from centeros.client.api import CenterOSClient
from centeros.client.config import cache_dir, read_json, write_json_atomic
from centeros.client.errors import CenterOSError

logger = logging.getLogger(__name__)

SCHEMA_CACHE_SECONDS = 300

# Option names that every command already has; a property with one of these
# names can still be passed with 'centeros run ACTION --param name=value'.
RESERVED_OPTIONS = {"help", "json"}


# -- the action listing, cached ---------------------------------------------


def _cache_path(client: CenterOSClient):
    # The listing depends on the token's scopes, so the token is part of the
    # key; only its hash is written to disk.
    identity = f"{client.base_url}\0{client.token or ''}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return cache_dir() / f"actions-{digest}.json"


def cached_actions(client: CenterOSClient) -> list[dict[str, Any]] | None:
    """Return the cached action listing if it is fresh, without a request."""
    cached = read_json(_cache_path(client))
    fetched_at = cached.get("fetched_at")
    actions = cached.get("actions")
    if (
        isinstance(fetched_at, int | float)
        and isinstance(actions, list)
        and 0 <= time.time() - fetched_at < SCHEMA_CACHE_SECONDS
    ):
        client.remember_actions(actions)
        return actions
    return None


def load_actions(
    client: CenterOSClient, *, refresh: bool = False
) -> list[dict[str, Any]]:
    """Return the action listing for this client, from the cache when fresh."""
    path = _cache_path(client)
    if not refresh:
        actions = cached_actions(client)
        if actions is not None:
            return actions

    actions = client.list_actions()
    try:
        write_json_atomic(
            path,
            {
                "base_url": client.base_url,
                "fetched_at": time.time(),
                "actions": actions,
            },
        )
    except OSError as error:
        logger.warning("Could not cache the action listing in %s: %s", path, error)
    return actions


def actions_by_category(
    actions: list[dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for described in actions:
        category = described.get("category")
        if isinstance(category, str) and category and described.get("name"):
            grouped.setdefault(category, []).append(described)
    return grouped


# -- naming -----------------------------------------------------------------


def _category_words(category: str) -> set[str]:
    words = {category}
    if category.endswith("s") and len(category) > 1:
        words.add(category[:-1])
    return words


def short_name(action_name: str, category: str) -> str:
    """Return the action name without the words that repeat its category."""
    words = _category_words(category)
    remaining = [word for word in action_name.split("_") if word not in words]
    if not remaining:
        return action_name.replace("_", "-")
    return "-".join(remaining)


def command_names(
    actions: list[dict[str, Any]], category: str, reserved: set[str]
) -> dict[str, dict[str, Any]]:
    """Return each action's command name in its group, resolving collisions."""
    proposed: dict[str, list[dict[str, Any]]] = {}
    for described in actions:
        proposed.setdefault(short_name(described["name"], category), []).append(
            described
        )

    names: dict[str, dict[str, Any]] = {}
    for name, claimants in proposed.items():
        if len(claimants) == 1 and name not in reserved:
            names[name] = claimants[0]
        else:
            for described in claimants:
                names[described["name"].replace("_", "-")] = described
    return names


# -- options from JSON Schema -----------------------------------------------


def _unwrap_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return the non-null branch of ``anyOf: [X, {type: null}]``."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        non_null = [
            b for b in branches if isinstance(b, dict) and b.get("type") != "null"
        ]
        if len(non_null) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**non_null[0], **merged}
    return schema


def _number_type(schema: dict[str, Any], kind: str) -> click.ParamType:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        if minimum is None and maximum is None:
            return click.INT
        return click.IntRange(minimum, maximum)
    if minimum is None and maximum is None:
        return click.FLOAT
    return click.FloatRange(minimum, maximum)


def convert_scalar(value: str, schema: dict[str, Any], option: str) -> Any:
    """Convert one command-line string to the JSON type ``schema`` names."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            lowered = value.lower()
            if lowered in {"true", "yes", "1", "on"}:
                return True
            if lowered in {"false", "no", "0", "off"}:
                return False
            raise ValueError(value)
        if kind in {"object", "array"} or not kind:
            return json.loads(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a valid {kind or 'JSON value'}.", param_hint=option
        )
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(map(str, enum))}.", param_hint=option
        )
    return value


def _array_value(values: tuple[str, ...], schema: dict[str, Any], option: str) -> list:
    """Collect an array from repeated and comma-separated option values."""
    items = _unwrap_nullable(schema.get("items") or {})
    result: list[Any] = []
    for raw in values:
        stripped = raw.strip()
        if stripped.startswith("["):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                raise click.BadParameter(
                    f"{raw!r} is not a valid JSON array.", param_hint=option
                )
            result.extend(parsed)
            continue
        if items.get("type") == "object":
            result.append(_object_value(raw, option))
            continue
        for piece in raw.split(","):
            if piece.strip():
                result.append(convert_scalar(piece.strip(), items, option))
    return result


def _object_value(raw: str, option: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise click.BadParameter(
            f"{raw!r} is not a JSON object; write it like '{{\"key\": 1}}'.",
            param_hint=option,
        )
    return parsed


def _help_text(schema: dict[str, Any]) -> str:
    parts = [str(schema.get("description") or "").strip()]
    kind = schema.get("type")
    if kind == "array":
        parts.append("Comma-separated or repeated values, or a JSON array.")
    elif kind == "object":
        parts.append("A JSON object.")
    elif schema.get("format") == "date-time":
        parts.append("An ISO 8601 date and time.")
    if "default" in schema:
        parts.append(f"[default: {json.dumps(schema['default'])}]")
    return " ".join(part for part in parts if part)


def build_option(
    identifier: str, prop: str, raw_schema: dict[str, Any], required: bool
) -> tuple[click.Option, Callable[[Any], Any]]:
    """Return a click option for one property and the function that turns
    its parsed value into the JSON value sent to the server."""
    schema = _unwrap_nullable(raw_schema if isinstance(raw_schema, dict) else {})
    flag = "--" + prop.replace("_", "-")
    kind = schema.get("type")
    required = required and "default" not in schema
    help_text = _help_text(schema)

    def identity(value: Any) -> Any:
        return value

    if kind == "boolean":
        option = click.Option(
            [f"{flag}/--no-{flag[2:]}", identifier],
            default=None,
            required=required,
            help=help_text,
        )
        return option, identity

    if kind == "array":
        option = click.Option(
            [flag, identifier], multiple=True, required=required, help=help_text
        )
        return option, lambda values: _array_value(values, schema, flag)

    if kind == "object":
        option = click.Option(
            [flag, identifier], required=required, help=help_text, metavar="JSON"
        )
        return option, lambda raw: _object_value(raw, flag)

    if isinstance(schema.get("enum"), list):
        choices = [str(value) for value in schema["enum"]]
        option = click.Option(
            [flag, identifier],
            type=click.Choice(choices),
            required=required,
            help=help_text,
        )
        return option, identity

    if kind in {"integer", "number"}:
        option = click.Option(
            [flag, identifier],
            type=_number_type(schema, kind),
            required=required,
            help=help_text,
        )
        return option, identity

    if kind == "string":
        option = click.Option([flag, identifier], required=required, help=help_text)
        return option, identity

    # No declared type: take JSON when the text parses as JSON, else a string.
    option = click.Option([flag, identifier], required=required, help=help_text)
    return option, parse_loose_value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; give a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a JSON number")
    return value


def strict_json_loads(text: str) -> Any:
    """Parse JSON as the server does: no NaN or infinities, bounded nesting.

    Raises ValueError with a sentence for the user.
    """
    try:
        return json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise ValueError("it nests arrays or objects too deeply")


def parse_loose_value(raw: str) -> Any:
    """Parse ``raw`` as JSON when it is valid JSON, else keep it as a string."""
    try:
        return strict_json_loads(raw)
    except ValueError:
        return raw


def _is_unset(value: Any) -> bool:
    return value is None or value == ()


def build_action_command(
    command_name: str,
    described: dict[str, Any],
    run: Callable[[click.Context, str, dict[str, Any], bool], None],
) -> click.Command:
    """Return the click command that runs one action."""
    action_name = described["name"]
    schema = described.get("input_schema") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])

    params: list[click.Parameter] = []
    converters: dict[str, tuple[str, Callable[[Any], Any]]] = {}
    skipped: list[str] = []
    for index, (prop, prop_schema) in enumerate(properties.items()):
        if prop.replace("_", "-") in RESERVED_OPTIONS:
            skipped.append(prop)
            continue
        identifier = f"param_{index}"
        option, convert = build_option(identifier, prop, prop_schema, prop in required)
        params.append(option)
        converters[identifier] = (prop, convert)
    params.append(
        click.Option(
            ["--json", "as_json"], is_flag=True, help="Print the result as JSON."
        )
    )

    def callback(as_json: bool, **values: Any) -> None:
        ctx = click.get_current_context()
        action_params = {
            prop: convert(values[identifier])
            for identifier, (prop, convert) in converters.items()
            if not _is_unset(values[identifier])
        }
        run(ctx, action_name, action_params, as_json)

    description = str(described.get("description") or "").strip()
    scopes = ", ".join(described.get("scopes") or []) or "none"
    details = f"Runs the action {action_name} (risk: {described.get('risk')}; scopes: {scopes})."
    if skipped:
        details += (
            " Pass " + ", ".join(skipped) + " with 'centeros run "
            f"{action_name} --param NAME=VALUE'."
        )
    return click.Command(
        command_name,
        params=params,
        callback=callback,
        help=f"{description}\n\n{details}",
    )


class CategoryGroup(click.Group):
    """A group whose commands are the actions of one category.

    ``static`` commands (such as ``datasets upload``) are always present, even
    when the server cannot be reached; generated ones are looked up lazily.
    """

    def __init__(
        self,
        name: str,
        *,
        load_category: Callable[[click.Context], list[dict[str, Any]]],
        run: Callable[[click.Context, str, dict[str, Any], bool], None],
        static: dict[str, click.Command] | None = None,
        help: str | None = None,
    ):
        super().__init__(name, help=help or f"Actions of the {name} category.")
        self._load_category = load_category
        self._run = run
        self._static = dict(static or {})
        self._names: dict[str, dict[str, Any]] | None = None

    def _generated(self, ctx: click.Context) -> dict[str, dict[str, Any]]:
        if self._names is None:
            actions = self._load_category(ctx)
            self._names = command_names(actions, self.name, set(self._static))
        return self._names

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            generated = self._generated(ctx)
        except CenterOSError as error:
            # Help must still show the built-in commands without a server.
            logger.warning("The %s actions are not listed: %s", self.name, error)
            generated = {}
        return sorted(set(self._static) | set(generated))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._static:
            return self._static[cmd_name]
        names = self._generated(ctx)
        described = names.get(cmd_name)
        if described is None:
            # The full action name works as an alias, with _ or -.
            alias = cmd_name.replace("-", "_")
            for name, candidate in names.items():
                if candidate["name"] == alias:
                    cmd_name, described = name, candidate
                    break
        if described is None:
            return None
        return build_action_command(cmd_name, described, self._run)
