"""Tests of the HTTP client, the CLI and the MCP server against a live server."""
