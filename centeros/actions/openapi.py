"""drf-spectacular hook that adds one OpenAPI path per registered action."""

from centeros.actions.registry import registry
from centeros.actions.schema import serializer_schema

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean", "const": False},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "request_id": {"type": "string"},
    },
    "required": ["ok", "detail"],
}

_ERROR_STATUSES = {
    "400": "Missing or invalid parameter.",
    "401": "Missing, invalid, expired or revoked token.",
    "403": "A required scope is not granted, or another organisation was named.",
    "404": "Unknown action, or no such object in the caller's organisation.",
    "409": "Duplicate, or a transition the current state does not allow.",
    "429": "Rate limit reached.",
}


def _operation(declared) -> dict:
    params_schema = serializer_schema(declared.params)
    responses = {
        "200": {
            "description": "The action ran.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "ok": {"type": "boolean", "const": True},
                            "data": {},
                            "meta": {
                                "type": "object",
                                "properties": {
                                    "total": {"type": "integer"},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                },
                            },
                        },
                        "required": ["ok", "data"],
                    }
                }
            },
        }
    }
    for status, description in _ERROR_STATUSES.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
    return {
        "operationId": declared.name,
        "summary": declared.description,
        "description": (
            f"{declared.description}\n\nScopes: {', '.join(declared.scopes)}. "
            f"Risk: {declared.risk}."
        ),
        "tags": [declared.category],
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"params": params_schema},
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": responses,
        "x-scopes": list(declared.scopes),
        "x-risk": str(declared.risk),
    }


def add_action_paths(result, generator, request, public):
    """Add ``POST /api/actions/<name>`` for every action to the schema."""
    paths = result.setdefault("paths", {})
    for declared in registry.all():
        paths[f"/api/actions/{declared.name}"] = {"post": _operation(declared)}

    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A PAT (frl_...) or an access token from /api/auth/login.",
    }
    return result
