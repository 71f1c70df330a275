"""``locallama serve``, ``locallama gateway token`` and ``locallama spend``.

``serve`` runs the local OpenAI- and Anthropic-compatible gateway in the foreground (Ctrl+C
stops it), with the MCP server's streamable HTTP transport at ``/mcp``. It binds 127.0.0.1
unless told otherwise, and any other address needs ``--allow-remote``. Every request needs
the gateway token: ``locallama gateway token`` prints it (it is made on first use and kept
in the system keyring; ``LOCALLAMA_GATEWAY_TOKEN`` overrides it).
"""

from __future__ import annotations

import argparse
import sys
import threading
from decimal import Decimal
from typing import Any

from locallama_gui.cli.common import (
    EXIT_OK,
    CliError,
    add_spend_args,
    emit_json,
    limits_from_args,
    pos_int,
    table,
)
from locallama_gui.cli.live_commands import add_endpoint_args, current_api_key
from locallama_gui.core.cost import format_usd
from locallama_gui.secrets import GatewayTokenStore, KeyStoreError
from locallama_gui.services.facade import Services
from locallama_gui.services.live import configured_endpoints
from locallama_gui.services.spend import spend_report
from locallama_gui.store.db import StoreError


def gateway_token(*, new: bool = False) -> str:
    """The token (made on first use); ``new`` replaces it."""
    store = GatewayTokenStore(fallback_file=token_file())
    try:
        return store.ensure_sync(new=new)
    except KeyStoreError as e:
        raise CliError(e.user_message) from None


def token_file() -> Any:
    """Where the token is kept when there is no system keyring (owner-only file)."""
    from locallama_gui.store.paths import data_dir

    return data_dir() / "gateway-token"


# --- serve -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from locallama_gui.gateway.host import GatewayHost, GatewayStartError, check_bind
    from locallama_gui.gateway.service import Gateway

    try:
        check_bind(args.host, args.allow_remote)
    except GatewayStartError as e:
        raise CliError(str(e)) from None
    services = Services.open()
    try:
        for notice in services.notices:
            print(f"note: {notice}", file=sys.stderr)
        token = gateway_token()
        endpoints = configured_endpoints(
            services.settings,
            openrouter_url=args.openrouter_url,
            ollama_url=args.ollama_url,
            lmstudio_url=args.lmstudio_url,
            server_urls=args.server_url,
        )
        gateway = Gateway(
            services,
            token=token,
            endpoints=endpoints,
            api_key_provider=current_api_key,
            limits=limits_from_args(args, services),
        )
        mounts: list[tuple[str, Any]] = []
        if not args.no_mcp:
            mounts.append(("/mcp", _mcp_app(args, services)))
        port = args.port if args.port is not None else services.settings.gateway.port
        host = GatewayHost(
            gateway, host=args.host, port=port, allow_remote=args.allow_remote, mounts=mounts
        )
        try:
            host.start()
        except GatewayStartError as e:
            raise CliError(str(e)) from None
        url = host.url
        print(f"LocaLLama gateway listening on {url}", flush=True)
        print(f"  OpenAI base URL:    {url}/v1", flush=True)
        print(f"  Anthropic base URL: {url}", flush=True)
        if not args.no_mcp:
            print(f"  MCP (HTTP):         {url}/mcp", flush=True)
        print("  token: locallama gateway token   (stop: Ctrl+C)", flush=True)
        stop = threading.Event()
        try:
            while not stop.wait(0.5):
                if not host.running:
                    raise CliError("the gateway stopped unexpectedly (see the log above)")
        except KeyboardInterrupt:
            print("stopping the gateway", file=sys.stderr)
        finally:
            host.stop()
    finally:
        services.close()
    return EXIT_OK


def _mcp_app(args: argparse.Namespace, services: Services) -> Any:
    from locallama_gui.cli.mcp_commands import server_from_args
    from locallama_gui.mcp.server import streamable_http_app

    return streamable_http_app(server_from_args(args, services), "/mcp")


# --- gateway token --------------------------------------------------------------------------


def cmd_gateway_token(args: argparse.Namespace) -> int:
    print(gateway_token(new=args.new))
    return EXIT_OK


# --- spend -----------------------------------------------------------------------------------


def _usd(text: str | None) -> str:
    return "—" if text is None else format_usd(Decimal(text), 4)


def cmd_spend(args: argparse.Namespace) -> int:
    services = Services.open()
    try:
        if services.store is None:
            raise CliError("the spend ledger is unavailable this session (see the note above)")
        try:
            report = spend_report(services)
        except StoreError as e:
            raise CliError(str(e)) from None
    finally:
        services.close()
    if args.json:
        emit_json(report)
        return EXIT_OK
    caps = report["caps"]
    for label, key, cap_key, left_key in (
        ("Today", "today", "daily_cap_usd", "daily_left_usd"),
        ("This month", "month", "monthly_cap_usd", "monthly_left_usd"),
    ):
        period = report[key]
        line = (
            f"{label}: {_usd(period['total_usd'])} over {period['requests']:,} requests; "
            f"saved {_usd(period['saved_usd'])} against {report['baseline_model']}"
        )
        if caps[cap_key] is not None:
            line += f" (cap {_usd(caps[cap_key])}, {_usd(caps[left_key])} left)"
        print(line)
        if period["unknown_cost_requests"]:
            print(f"  {period['unknown_cost_requests']} requests had an unknown cost (not summed)")
    month = report["month"]
    if month["by_model"]:
        print()
        rows = [
            (
                r["model"],
                r.get("tier", ""),
                f"{r['requests']:,}",
                _usd(r["total_usd"]),
                _usd(r["saved_usd"]),
            )
            for r in month["by_model"][: args.limit]
        ]
        print(table(rows, ("model (this month)", "tier", "requests", "spent", "saved")))
        print()
        rows = [
            (r["client"], f"{r['requests']:,}", _usd(r["total_usd"]), _usd(r["saved_usd"]))
            for r in month["by_client"][: args.limit]
        ]
        print(table(rows, ("client", "requests", "spent", "saved")))
    else:
        print("Nothing recorded this month yet.")
    if caps["refuse_paid_fallback"]:
        print("\nPaid fallbacks are refused (spend.refuse_paid_fallback).")
    return EXIT_OK


# --- parser ----------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run the local OpenAI/Anthropic-compatible gateway (and MCP at /mcp)"
    )
    p.add_argument(
        "--port", type=_port, metavar="N", help="port (default: the settings', 11435; 0: any)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (other machines can then reach it)",
    )
    p.add_argument("--no-mcp", action="store_true", help="do not serve MCP at /mcp")
    add_spend_args(p)
    add_endpoint_args(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("gateway", help="the gateway's token")
    gsub = p.add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    t = gsub.add_parser("token", help="print the gateway token (made on first use)")
    t.add_argument(
        "--new", action="store_true", help="make a new token (the old one stops working)"
    )
    t.set_defaults(func=cmd_gateway_token)

    p = sub.add_parser("spend", help="spend today and this month, by model and by client")
    p.add_argument("--json", action="store_true", help="print JSON (a stable interface)")
    p.add_argument("--limit", type=pos_int, default=15, metavar="N", help="rows per table")
    p.set_defaults(func=cmd_spend)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535")
    return value


__all__ = ["gateway_token", "register"]
