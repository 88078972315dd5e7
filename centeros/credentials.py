"""Bearer tokens stored as keyed hashes.

A token is a fixed prefix (``frl_`` for PATs, ``frr_`` for robots) followed by
43 random URL-safe characters (256 bits). The database keeps only an
HMAC-SHA256 of the token under the server's secret key, namespaced per kind of
token, so a leaked table cannot be replayed and a PAT hash never matches a
robot token. Lookups try the current key first and then each fallback key, so
rotating SECRET_KEY does not invalidate tokens at once.
"""

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

TOKEN_RANDOM_BYTES = 32
DISPLAY_PREFIX_LENGTH = 12


def new_token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(TOKEN_RANDOM_BYTES)}"


def token_hash(token: str, *, salt: str, secret: str | None = None) -> str:
    return salted_hmac(
        salt, token, secret=secret or settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def candidate_hashes(token: str, *, salt: str) -> list[str]:
    """Return the token's hash under the current key and every fallback key."""
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [token_hash(token, salt=salt, secret=key) for key in keys]


def display_prefix(token: str) -> str:
    """Return the first characters of a token, safe to show in lists."""
    return token[:DISPLAY_PREFIX_LENGTH]


def looks_like(token: str, prefix: str, *, min_random: int = 32) -> bool:
    return (
        token.startswith(prefix)
        and len(token) >= len(prefix) + min_random
        and len(token) <= 200
    )
