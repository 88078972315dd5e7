"""Strict parameter fields and the base serializer of every action's input.

DRF's stock fields coerce (``"5"`` becomes 5, ``1`` becomes ``True``); an
action's params are JSON and must already have the right JSON type, so these
fields reject anything else with a message that names the expected type.
"""

import math
from typing import Any

from rest_framework import serializers

# PostgreSQL bigint bounds; larger integers could never match a stored value.
MAX_INTEGER = 2**63 - 1
MIN_INTEGER = -(2**63)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", MIN_INTEGER)
        kwargs.setdefault("max_value", MAX_INTEGER)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {
        "invalid": "Must be a number.",
        "not_finite": "Must be a finite number.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("not_finite")
        if isinstance(data, int) and abs(data) > 2**1023:
            self.fail("not_finite")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {
        "invalid_choice": "{input!r} is not one of: {choices_text}.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data, choices_text=self._choices_text())
        if data not in self.choices:
            self.fail("invalid_choice", input=data, choices_text=self._choices_text())
        return data

    def _choices_text(self) -> str:
        return ", ".join(str(choice) for choice in self.choices)


def is_storable_text(text: str) -> bool:
    """Return whether the databases can store ``text``.

    PostgreSQL rejects NUL characters in text and jsonb, and lone UTF-16
    surrogates (which JSON escapes such as \\ud800 produce) are not valid
    UTF-8 for either database.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JSONObjectField(serializers.Field):
    """A JSON object (dict) of arbitrary values, with finite numbers only."""

    default_error_messages = {
        "invalid": "Must be a JSON object.",
        "not_finite": "Must contain only finite numbers.",
        "invalid_text": "Must not contain NUL characters or lone surrogates.",
        "too_large": "Must have at most {max_keys} keys.",
    }

    def __init__(self, *, max_keys: int = 200, **kwargs):
        self.max_keys = max_keys
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        if len(data) > self.max_keys:
            self.fail("too_large", max_keys=self.max_keys)
        if not _all_finite(data):
            self.fail("not_finite")
        if not _all_storable(data):
            self.fail("invalid_text")
        return data

    def to_representation(self, value):
        return value


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_all_finite(item) for item in value)
    return True


def _all_storable(value: Any) -> bool:
    if isinstance(value, str):
        return is_storable_text(value)
    if isinstance(value, dict):
        return all(
            is_storable_text(str(key)) and _all_storable(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_all_storable(item) for item in value)
    return True


class ActionParams(serializers.Serializer):
    """Base of every action's input serializer: unknown params are rejected."""

    default_error_messages = {
        "invalid": "Params must be a JSON object.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            allowed = ", ".join(sorted(self.fields)) or "none"
            raise serializers.ValidationError(
                {name: [f"Unknown parameter. Allowed: {allowed}."] for name in unknown}
            )
        return super().to_internal_value(data)


class PaginationParams(ActionParams):
    """Params shared by list actions."""

    limit = StrictIntegerField(
        required=False,
        default=50,
        min_value=1,
        max_value=200,
        help_text="Maximum number of items to return (1 to 200).",
    )
    offset = StrictIntegerField(
        required=False,
        default=0,
        min_value=0,
        help_text="Number of items to skip before the first one returned.",
    )


class NoParams(ActionParams):
    """For actions that take no params."""


def object_id_field(label: str, **kwargs) -> StrictIntegerField:
    """Return a field for the integer id of an object, named in help text."""
    kwargs.setdefault("help_text", f"Id of the {label}.")
    return StrictIntegerField(min_value=1, **kwargs)
