"""services.operations: the documents the CLI, the gateway's /api and the MCP tools share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from locallama_gui.core.models import Usage
from locallama_gui.core.settings import Settings
from locallama_gui.services import operations
from locallama_gui.services.facade import Services

WINDOWED = "deepseek/deepseek-v4-pro-0813"  # time-of-day prices in the bundled snapshot


def at(hour: int) -> datetime:
    return datetime(2026, 12, 6, hour, 30, tzinfo=UTC)


def services_at(hour: int) -> Services:
    return Services(settings=Settings(), store=None, clock=lambda: at(hour))


def test_cost_is_priced_now_like_routing_when_no_time_is_given():
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=0)
    night, noon = services_at(2), services_at(12)
    assert night.find_model(WINDOWED).pricing.overrides  # the premise
    for services, hour in ((night, 2), (noon, 12)):
        doc = operations.cost_document(services, WINDOWED, usage)
        assert doc["at"] == at(hour).isoformat()
        assert doc == operations.cost_document(services, WINDOWED, usage, at=at(hour))
        assert doc["applied_overrides"]  # a window was in force, and it says which
    assert (
        operations.cost_document(night, WINDOWED, usage)["total_usd"]
        != operations.cost_document(noon, WINDOWED, usage)["total_usd"]
    )


def test_cost_from_a_json_body_checks_what_it_reads():
    services = services_at(12)
    doc = operations.cost_document_from(
        services, {"model": "openai/gpt-4o", "prompt_tokens": 1000, "completion_tokens": 10}
    )
    prices = doc["effective_prices"]
    assert (
        Decimal(doc["total_usd"])
        == Decimal(prices["prompt"]) * 1000 + Decimal(prices["completion"]) * 10
    )
    with pytest.raises(ValueError, match="unknown field 'tokens'"):
        operations.cost_document_from(services, {"model": "openai/gpt-4o", "tokens": 5})
    with pytest.raises(ValueError, match="whole number"):
        operations.cost_document_from(services, {"model": "openai/gpt-4o", "prompt_tokens": 1.5})
    with pytest.raises(ValueError, match="negative"):
        operations.cost_document_from(services, {"model": "openai/gpt-4o", "prompt_tokens": -1})
    with pytest.raises(LookupError, match="did you mean"):
        operations.cost_document_from(services, {"model": "openai/gpt-4oo", "prompt_tokens": 1})
    counted = operations.cost_document_from(
        services, {"model": "openai/gpt-4o", "text": "hello there"}
    )
    assert counted["usage"]["token_method"] != "given" and counted["usage"]["prompt_tokens"] > 0


def test_route_from_a_json_body_and_its_mistakes():
    services = services_at(12)
    doc = operations.route_document_from(
        services, {"prompt_tokens": 200, "category": "code", "budget_usd": "0.01"}
    )
    assert doc["chosen"] is not None and doc["free_quota"]["per_day"] > 0
    for body, message in (
        ({}, "prompt_tokens"),
        ({"prompt": "x", "category": "poetry"}, "unknown category"),
        ({"prompt": "x", "priority": "fast"}, "unknown priority"),
        ({"prompt": "x", "budget_usd": "lots"}, "USD"),
        ({"prompt": "x", "local_only": "yes"}, "true or false"),
        ({"prompt": "x", "capabilities": "teleport"}, "capability"),
    ):
        with pytest.raises(ValueError, match=message):
            operations.route_document_from(services, body)


def test_models_carry_quality_evidence_and_the_free_quota():
    services = services_at(12)
    doc = operations.models_document(services, free_only=True, category="code")
    assert doc["models"] and {m["tier"] for m in doc["models"]} == {"free"}
    for m in doc["models"]:
        q = m["quality"]
        assert q["category"] == "code" and 0 <= q["prior"] <= 1 and q["prior_source"]
        assert m["observed"] is None  # no runs recorded in this session
    assert doc["free_quota"]["remaining_day"] == doc["free_quota"]["per_day"]
    with pytest.raises(ValueError, match="unknown tier"):
        operations.models_document(services, tiers=["cheap"])
