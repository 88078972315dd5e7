"""A JSON parser that rejects what JSON itself does not allow.

Python's ``json`` module accepts ``NaN`` and ``Infinity`` and turns ``1e400``
into ``inf``. None of these can be stored or compared sensibly, so the
request is rejected with a 400 before any action runs.
"""

import json
import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON; send a finite number instead.")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(
            f"The number {text[:40]} is out of range for a double-precision float."
        )
    return value


# Deeper nesting than any action or agent message needs; it bounds the
# recursion of everything that walks the parsed value later.
MAX_JSON_DEPTH = 32


class JSONTooDeep(ValueError):
    """A JSON body nests arrays or objects deeper than MAX_JSON_DEPTH."""


def json_depth(value) -> int:
    """Return how deeply arrays and objects nest in ``value``, iteratively."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_text(text: str):
    """Parse a JSON request body strictly.

    Raises ValueError, with a sentence for the client, for invalid JSON,
    NaN, infinities and numbers out of double range, and its subclass
    JSONTooDeep for nesting deeper than MAX_JSON_DEPTH.
    """
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_float=_parse_float
        )
    except RecursionError:
        raise JSONTooDeep("The request body nests JSON arrays or objects too deeply.")
    if json_depth(value) > MAX_JSON_DEPTH:
        raise JSONTooDeep(
            "The request body nests JSON arrays or objects more than "
            f"{MAX_JSON_DEPTH} levels deep."
        )
    return value


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError:
            raise ParseError(f"The request body is not valid {encoding} text.")

        if not text.strip():
            return {}
        try:
            return parse_json_text(text)
        except JSONTooDeep as error:
            raise ParseError(str(error))
        except ValueError as error:
            raise ParseError(f"The request body is not valid JSON: {error}")
