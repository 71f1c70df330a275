"""The MCP server (official ``mcp`` SDK): tools and resources over the services."""
