"""CenterOS: the operations platform of a robot-learning team.

This package contains the Django project (settings, URLs, ASGI and WSGI entry
points), the action layer core that every domain app registers into, and the
client side (HTTP client, CLI, MCP server), which imports no server module.
"""

__version__ = "0.1.0"
