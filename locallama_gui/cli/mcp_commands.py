"""``locallama mcp``: the MCP server on stdin/stdout, for Claude Desktop, Claude Code, Cline.

Its tools and resources are those of :mod:`locallama_gui.mcp.server`; the same server is on the
gateway at ``/mcp`` (``locallama serve``). Nothing but MCP messages goes to stdout; notes and
log lines go to stderr, where the MCP clients show them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Any

from locallama_gui.cli.common import EXIT_OK, add_spend_args, limits_from_args
from locallama_gui.cli.live_commands import add_endpoint_args, current_api_key
from locallama_gui.services.facade import Services


def server_from_args(args: argparse.Namespace, services: Services) -> Any:
    """The MCP server with the URL overrides and spend flags of ``args`` (also /mcp of
    ``locallama serve``)."""
    from locallama_gui.mcp.server import build_server

    return build_server(
        services=services,
        openrouter_url=args.openrouter_url,
        ollama_url=args.ollama_url,
        lmstudio_url=args.lmstudio_url,
        server_urls=args.server_url,
        api_key_provider=current_api_key,
        limits=limits_from_args(args, services),
    )


def cmd_mcp(args: argparse.Namespace) -> int:
    from locallama_gui.mcp.server import run_stdio

    services = Services.open()
    try:
        for notice in services.notices:
            print(f"locallama: note: {notice}", file=sys.stderr)
        server = server_from_args(args, services)
        logging.getLogger().setLevel(logging.WARNING)
        with contextlib.suppress(KeyboardInterrupt):
            run_stdio(server)
    finally:
        services.close()
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mcp",
        help="the MCP server on stdin/stdout (Claude Desktop, Claude Code, Cline)",
        description="Serve the MCP tools (route_task, estimate_cost, list_free_models, "
        "list_models, refresh_models, run_task, benchmark_models, get_status) and resources "
        "on stdin/stdout. Add it to an MCP client as the command 'locallama mcp'.",
    )
    add_spend_args(p)
    add_endpoint_args(p)
    p.set_defaults(func=cmd_mcp)
