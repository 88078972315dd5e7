"""The caller of an action, and the request it arrived on."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user acting in one organisation.

    Authentication classes build it and put it on ``request.auth``. ``scopes``
    is already the effective set: the token's scopes intersected with the
    scopes of the user's role in ``org``.
    """

    user: Any
    org: Any
    role: str
    scopes: frozenset[str]
    token_kind: str  # "jwt" or "pat"
    token_id: str | None = None

    @property
    def is_superadmin(self) -> bool:
        return bool(getattr(self.user, "is_superuser", False))


@dataclass(frozen=True)
class ActionContext:
    """Everything an action handler may know about its caller."""

    principal: Principal
    request_id: str = ""
    client_ip: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def user(self):
        return self.principal.user

    @property
    def org(self):
        return self.principal.org

    @property
    def scopes(self) -> frozenset[str]:
        return self.principal.scopes

    @property
    def is_superadmin(self) -> bool:
        return self.principal.is_superadmin
