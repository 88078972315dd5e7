"""Rendering of command results: rich tables for people, JSON for scripts.

Results go to stdout; progress, warnings and errors go to stderr, so that
``centeros --json ... | jq`` always receives clean JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from centeros.client.errors import (
    APIError,
    CenterOSError,
    ConnectionFailed,
    Forbidden,
    RateLimited,
    Unauthorized,
)


def _stdout_width() -> int | None:
    # Piped output has no terminal width; rich would assume 80 columns and
    # fold every table, so use COLUMNS or a wide default instead.
    if sys.stdout.isatty():
        return None
    try:
        return int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return 200


stdout = Console(soft_wrap=False, width=_stdout_width())
stderr = Console(stderr=True, soft_wrap=True)

# Values longer than these are cut in tables (a list has one row per item,
# a record one row per field); --json shows the full values.
MAX_TABLE_CELL_CHARS = 36
MAX_CELL_CHARS = 80

ISO_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:00)$"
)


def print_json(value: Any) -> None:
    # Plain print, not rich: rich would wrap long lines and add markup.
    print(json.dumps(value, indent=2, sort_keys=False, default=str))


def emit(data: Any, meta: dict[str, Any] | None = None, *, as_json: bool) -> None:
    """Print an action result: ``{"data", "meta"}`` as JSON, or as a table."""
    if as_json:
        result: dict[str, Any] = {"data": data}
        if meta:
            result["meta"] = meta
        print_json(result)
        return

    if isinstance(data, list):
        print_rows(data)
    elif isinstance(data, dict):
        print_record(data)
    elif data is not None:
        stdout.print(escape(str(data)))
    if meta:
        print_page_footer(meta, len(data) if isinstance(data, list) else None)


def cell(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    """Format one value for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, default=str, separators=(",", ":"))
    else:
        text = str(value)
        # Timestamps in UTC read better without microseconds and offset.
        match = ISO_DATETIME.match(text)
        if match:
            text = f"{match.group(1)} {match.group(2)}"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_nested(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    )


def print_rows(rows: list[Any]) -> None:
    """Print a list of objects as a table with one column per key.

    Columns that are empty in every row, and nested objects, are left out,
    and so are the last columns that do not fit the width: a table that
    folds every cell is harder to read than one with fewer columns. The
    columns left out are named on stderr; --json shows everything.
    """
    if not rows:
        stdout.print("No results.")
        return
    if not all(isinstance(row, dict) for row in rows):
        for row in rows:
            stdout.print(escape(cell(row)))
        return

    keys: list[str] = []
    for row in rows:
        for key in row:
            if key not in keys:
                keys.append(key)
    cell_texts = {
        key: [cell(row.get(key), MAX_TABLE_CELL_CHARS) for row in rows] for key in keys
    }

    columns: list[str] = []
    left_out: list[str] = []
    used = 1
    for key in keys:
        values = [row.get(key) for row in rows]
        if all(_is_empty(v) for v in values):
            continue
        width = max(len(key), *(len(text) for text in cell_texts[key])) + 3
        if any(_is_nested(v) for v in values) or used + width > stdout.width:
            left_out.append(key)
            continue
        columns.append(key)
        used += width

    table = Table(show_header=True, header_style="bold", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="ellipsis", no_wrap=True)
    for index in range(len(rows)):
        table.add_row(*(escape(cell_texts[column][index]) for column in columns))
    stdout.print(table)
    if left_out:
        stderr.print(f"Not shown: {', '.join(left_out)} (use --json to see them).")


def flatten(record: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested objects into dotted keys, one level of lists kept as is."""
    items: list[tuple[str, Any]] = []
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items.extend(flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items


def print_record(record: dict[str, Any]) -> None:
    """Print one object as a two-column table of fields and values."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in flatten(record):
        table.add_row(escape(key), escape(cell(value)))
    stdout.print(table)


def print_page_footer(meta: dict[str, Any], shown: int | None) -> None:
    total = meta.get("total")
    offset = meta.get("offset") or 0
    if not isinstance(total, int) or shown is None:
        return
    if shown == 0:
        stderr.print(f"{total} in total.")
        return
    stderr.print(f"Showing {offset + 1} to {offset + shown} of {total}.")


def warn(message: str) -> None:
    stderr.print(f"[yellow]Warning:[/yellow] {escape(message)}")


def describe_error(error: CenterOSError, *, token_source: str | None = None) -> str:
    """Return the text printed on stderr for a failed command."""
    if isinstance(error, ConnectionFailed):
        return str(error)
    if not isinstance(error, APIError):
        return str(error)

    lines = [error.detail]
    for field, messages in sorted(error.errors.items()):
        for message in messages if isinstance(messages, list) else [messages]:
            # The detail often quotes the first field error already.
            if str(message) not in error.detail:
                lines.append(f"  {field}: {message}")

    if isinstance(error, Unauthorized):
        lines.append(_token_hint(token_source))
    elif isinstance(error, Forbidden):
        lines.append(
            "The token in use does not allow this; 'centeros whoami' lists its scopes."
        )
    elif isinstance(error, RateLimited) and error.retry_after:
        lines.append(f"Try again in {error.retry_after:g} seconds.")
    if error.request_id and error.status >= 500:
        lines.append(f"Request id: {error.request_id}")
    return "\n".join(lines)


def _token_hint(token_source: str | None) -> str:
    if token_source == "environment":
        return (
            "The server rejected the token in CENTEROS_TOKEN. Set it to a valid "
            "token, or unset it to use the saved login."
        )
    if token_source == "saved login":
        return "The saved login is no longer valid. Run 'centeros login' again."
    if token_source == "argument":
        return "The server rejected the token given to the client."
    return "No token is configured. Run 'centeros login' or set CENTEROS_TOKEN."


def print_error(error: CenterOSError, *, token_source: str | None = None) -> None:
    text = describe_error(error, token_source=token_source)
    stderr.print(f"[red]Error:[/red] {escape(text)}")
