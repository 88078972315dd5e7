"""Effective scopes: what a token may do in its organisation."""

from collections.abc import Iterable

from centeros import scopes as scope_names


def role_scopes(role: str | None, *, is_superuser: bool = False) -> frozenset[str]:
    if is_superuser:
        return scope_names.ALL_SCOPES
    if role is None:
        return frozenset()
    return scope_names.ROLE_SCOPES.get(role, frozenset())


def effective_scopes(
    token_scopes: Iterable[str], role: str | None, *, is_superuser: bool = False
) -> frozenset[str]:
    """Return the token's scopes intersected with the role's scopes.

    A token never exceeds its owner, and a role change takes effect on the
    next request because this is computed on every request.
    """
    granted = scope_names.expand(token_scopes)
    return granted & role_scopes(role, is_superuser=is_superuser)
