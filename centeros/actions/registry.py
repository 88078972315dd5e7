"""Action declarations and the registry that collects them."""

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from centeros import scopes as scope_names
from centeros.actions.params import ActionParams

logger = logging.getLogger(__name__)


class Risk(enum.StrEnum):
    """How much an action can change, listed in discovery and MCP tool hints."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"
    SAFETY = "safety"


@dataclass(frozen=True)
class Page:
    """One page of a list action's results, rendered with ``meta``."""

    items: list
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Action:
    """A named operation of the platform with its scopes and input schema."""

    name: str
    category: str
    description: str
    scopes: tuple[str, ...]
    risk: Risk
    params: type[ActionParams]
    handler: Callable[..., Any]
    # False for handlers that commit in steps of their own, because part of
    # their work must run outside a transaction (a long file inspection).
    atomic: bool = True

    def run(self, context, params: dict) -> Any:
        return self.handler(context, params)


class ActionRegistry:
    """The actions known to this process, by name."""

    def __init__(self):
        self._actions: dict[str, Action] = {}

    def register(self, declared: Action) -> Action:
        if declared.name in self._actions:
            raise ImproperlyConfigured(f"Action {declared.name!r} is declared twice.")
        if not declared.scopes:
            raise ImproperlyConfigured(
                f"Action {declared.name!r} declares no scopes; every action must "
                "name the scopes it needs."
            )
        known = scope_names.ALL_SCOPES | {scope_names.AUTHENTICATED}
        unknown = [s for s in declared.scopes if s not in known]
        if unknown:
            raise ImproperlyConfigured(
                f"Action {declared.name!r} declares unknown scopes {unknown}."
            )
        self._actions[declared.name] = declared
        return declared

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def all(self) -> list[Action]:
        return sorted(self._actions.values(), key=lambda a: (a.category, a.name))

    def categories(self) -> list[str]:
        return sorted({a.category for a in self._actions.values()})

    def allowed(self, granted: Iterable[str]) -> list[Action]:
        granted = frozenset(granted) | {scope_names.AUTHENTICATED}
        return [a for a in self.all() if set(a.scopes) <= granted]


registry = ActionRegistry()


def action(
    *,
    name: str,
    category: str,
    description: str,
    scopes: Iterable[str],
    risk: Risk | str,
    params: type[ActionParams],
    atomic: bool = True,
) -> Callable[[Callable], Callable]:
    """Declare the decorated function as the handler of an action.

    The handler receives an :class:`~centeros.actions.ActionContext` and the
    validated params as a dict, runs inside a database transaction (unless
    ``atomic`` is false), and returns JSON-serialisable data or a
    :class:`Page`.
    """

    def decorator(handler: Callable) -> Callable:
        registry.register(
            Action(
                name=name,
                category=category,
                description=description,
                scopes=tuple(scopes),
                risk=Risk(risk),
                params=params,
                handler=handler,
                atomic=atomic,
            )
        )
        return handler

    return decorator
