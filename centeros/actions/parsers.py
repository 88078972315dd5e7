"""A JSON parser that rejects what JSON itself does not allow.

Python's ``json`` module accepts ``NaN`` and ``Infinity`` and turns ``1e400``
into ``inf``; none of these can be stored or compared sensibly, so the request
is rejected with a 400 before any action sees it.
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
            return json.loads(
                text, parse_constant=_reject_constant, parse_float=_parse_float
            )
        except ValueError as error:
            raise ParseError(f"The request body is not valid JSON: {error}")
        except RecursionError:
            raise ParseError(
                "The request body nests JSON arrays or objects too deeply."
            )
