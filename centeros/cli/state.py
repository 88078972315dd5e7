"""Per-invocation state of the CLI: global options and the lazily made client."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import click

from centeros.cli.generated import actions_by_category, cached_actions, load_actions
from centeros.client.api import CenterOSClient


@dataclass
class CliState:
    """Global options, and the client and action listing built from them."""

    api_url: str | None = None
    as_json: bool = False
    refresh_schema: bool = False
    verbose: int = 0
    _client: CenterOSClient | None = field(default=None, repr=False)
    _actions: list[dict[str, Any]] | None = field(default=None, repr=False)

    def client(self) -> CenterOSClient:
        if self._client is None:
            self._client = CenterOSClient(base_url=self.api_url)
            # A cached listing gives the client the risk of each action, so a
            # read-only one may be retried after a connection error.
            cached_actions(self._client)
        return self._client

    @property
    def token_source(self) -> str | None:
        return self._client.token_source if self._client else None

    def actions(self) -> list[dict[str, Any]]:
        if self._actions is None:
            self._actions = load_actions(self.client(), refresh=self.refresh_schema)
        return self._actions

    def categories(self) -> dict[str, list[dict[str, Any]]]:
        return actions_by_category(self.actions())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def state_of(ctx: click.Context) -> CliState:
    return ctx.ensure_object(CliState)


def configure_logging(verbose: int) -> None:
    """Send log records to stderr: warnings by default, more with -v, -vv.

    httpx logs every request URL at INFO, and upload URLs carry their
    signature, so its loggers stay at WARNING at every verbosity.
    """
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
