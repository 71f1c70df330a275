"""The ``/api`` endpoints: the same documents as the CLI's ``--json`` and the MCP tools,
computed by :mod:`locallama_gui.services.operations` (never here)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from locallama_gui.gateway.service import Gateway
from locallama_gui.services import operations
from locallama_gui.services.refresh import RefreshService
from locallama_gui.services.spend import spend_report


async def free_models(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(operations.models_document, gateway.services, free_only=True)


async def models(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    def go() -> dict[str, Any]:
        return operations.models_document(
            gateway.services,
            tiers=[t for t in str(query.get("tier", "")).split(",") if t] or None,
            sources=[s for s in str(query.get("source", "")).split(",") if s] or None,
            search=query.get("search") or None,
            min_context=int(query["min_context"]) if query.get("min_context") else None,
        )

    return await asyncio.to_thread(go)


async def refresh(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    result = await RefreshService(gateway.require_live()).refresh()
    return result.to_dict()


async def cost(gateway: Gateway, body: Mapping[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(operations.cost_document_from, gateway.services, body)


async def route(gateway: Gateway, body: Mapping[str, Any]) -> dict[str, Any]:
    key = gateway.key_present
    return await asyncio.to_thread(
        operations.route_document_from, gateway.services, body, key_present=key
    )


async def spend(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(spend_report, gateway.services)


async def status(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    doc = await operations.probe_status_document(gateway.services, gateway.require_live())
    doc["gateway"] = {"requests_today": gateway.requests_today, "active": gateway.active}
    return doc


async def traffic(gateway: Gateway, query: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "requests_today": gateway.requests_today,
        "recent": [e.to_dict() for e in list(gateway.traffic)[-100:]],
    }
