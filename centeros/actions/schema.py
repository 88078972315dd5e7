"""JSON Schema of an action's input, derived from its params serializer."""

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from centeros.actions import params as fields


def _regex_pattern(field: serializers.Field) -> str | None:
    """Return the field's RegexValidator pattern in JSON Schema's dialect."""
    for validator in field.validators:
        if isinstance(validator, RegexValidator) and not validator.inverse_match:
            # Python's end-of-string anchor is spelled $ in ECMA-262 regexes.
            return validator.regex.pattern.replace(r"\Z", "$")
    return None


def _field_schema(field: serializers.Field) -> dict[str, Any]:
    schema: dict[str, Any]

    # A custom field describes itself with a ``json_schema`` attribute.
    if getattr(field, "json_schema", None) is not None:
        schema = dict(field.json_schema)
    elif isinstance(field, serializers.ChoiceField):
        schema = {"type": "string", "enum": [str(c) for c in field.choices]}
    elif isinstance(field, fields.StrictBooleanField | serializers.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, serializers.IntegerField):
        schema = {"type": "integer"}
        if field.min_value is not None and field.min_value != fields.MIN_INTEGER:
            schema["minimum"] = field.min_value
        if field.max_value is not None and field.max_value != fields.MAX_INTEGER:
            schema["maximum"] = field.max_value
    elif isinstance(field, serializers.FloatField):
        schema = {"type": "number"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
    elif isinstance(field, serializers.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, serializers.EmailField):
        schema = {"type": "string", "format": "email"}
    elif isinstance(field, serializers.CharField):
        schema = {"type": "string"}
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        elif not field.allow_blank:
            schema["minLength"] = 1
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        pattern = _regex_pattern(field)
        if pattern:
            schema["pattern"] = pattern
    elif isinstance(field, serializers.ListField):
        schema = {"type": "array", "items": _field_schema(field.child)}
        if field.min_length is not None:
            schema["minItems"] = field.min_length
        elif not field.allow_empty:
            schema["minItems"] = 1
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
    elif isinstance(field, serializers.Serializer):
        schema = serializer_schema(type(field))
    elif isinstance(field, fields.JSONObjectField):
        schema = {"type": "object"}
    else:
        schema = {}

    if field.help_text:
        schema["description"] = str(field.help_text)
    default = field.default
    if default is not serializers.empty and not callable(default):
        schema["default"] = default
    if getattr(field, "allow_null", False):
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def serializer_schema(serializer_class: type[serializers.Serializer]) -> dict:
    """Return the JSON Schema (draft 2020-12) of a serializer's input."""
    serializer = serializer_class()
    properties = {}
    required = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        properties[name] = _field_schema(field)
        if field.required:
            required.append(name)

    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema
