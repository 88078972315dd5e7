"""The action layer: one declaration per action, one view that runs them all.

Domain apps declare actions in their ``actions.py`` with :func:`action`; the
registry collects them at start-up, and the discovery endpoint, the dispatch
endpoint, the OpenAPI schema, the CLI and the MCP server are all derived from
those declarations. This package imports no domain app.
"""

from centeros.actions.context import ActionContext, Principal
from centeros.actions.registry import Action, Page, Risk, action, registry

__all__ = ["Action", "ActionContext", "Page", "Principal", "Risk", "action", "registry"]
