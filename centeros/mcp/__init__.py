"""The ``centeros-mcp`` MCP server; it imports no server code of CenterOS."""
