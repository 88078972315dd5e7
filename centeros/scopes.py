"""Scope names and the role table of the published API reference.

A scope is ``<area>:<read|write>``; ``*`` grants every scope. Tokens carry
scopes, roles grant them, and an action lists the scopes it needs.
"""

from collections.abc import Iterable

WILDCARD = "*"

# Declared by actions that any authenticated token may run (whoami and the
# token actions); every principal has it, and no token can be given it.
AUTHENTICATED = "authenticated"

AREAS = (
    "datasets",
    "training",
    "models",
    "fleet",
    "annotations",
    "orgs",
    "stats",
)

ALL_SCOPES: frozenset[str] = frozenset(
    [f"{area}:read" for area in AREAS]
    + [f"{area}:write" for area in AREAS if area != "stats"]
)


class Role:
    ADMIN = "admin"
    OPERATOR = "operator"
    ANNOTATOR = "annotator"
    VIEWER = "viewer"


def _area_scopes(*areas: str) -> set[str]:
    return {scope for scope in ALL_SCOPES if scope.split(":")[0] in areas}


ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.ADMIN: ALL_SCOPES,
    Role.OPERATOR: frozenset(
        _area_scopes("datasets", "training", "fleet", "annotations")
        | {"models:read", "stats:read"}
    ),
    Role.ANNOTATOR: frozenset(
        {"datasets:read", "stats:read"} | _area_scopes("annotations")
    ),
    Role.VIEWER: frozenset(scope for scope in ALL_SCOPES if scope.endswith(":read")),
}


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """Return the concrete scopes that ``scopes`` grant, resolving ``*``."""
    expanded: set[str] = set()
    for scope in scopes:
        if scope == WILDCARD:
            return ALL_SCOPES
        if scope.endswith(":*"):
            expanded |= _area_scopes(scope.split(":")[0])
        else:
            expanded.add(scope)
    return frozenset(expanded & ALL_SCOPES)


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """Return the entries of ``scopes`` that name no scope, area or wildcard."""
    unknown = []
    for scope in scopes:
        if scope == WILDCARD or scope in ALL_SCOPES:
            continue
        area, _, rest = scope.partition(":")
        if rest == "*" and area in AREAS:
            continue
        unknown.append(scope)
    return unknown
