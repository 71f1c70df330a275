"""The gateway's OpenAPI 3.1 document (``GET /openapi.json``).

Written out rather than generated: the endpoints pass OpenAI and Anthropic bodies through, so
their schemas are the providers' own, and the ``/api`` documents are the CLI's ``--json``.
A test checks that every route of the app is described here and nothing else.
"""

from __future__ import annotations

from typing import Any

from locallama_gui import __version__

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
            "required": ["message", "type"],
        }
    },
}
_OPTIONS = {
    "type": "object",
    "description": "Routing options for the virtual models locallama/auto, /free and /local.",
    "properties": {
        "category": {"type": "string"},
        "priority": {"enum": ["cost", "balanced", "speed", "quality"]},
        "budget_usd": {"type": "string", "description": "Most to spend on this request."},
        "free_preference": {"enum": ["prefer", "only", "avoid", "off"]},
        "local_only": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_USAGE_PROPS = {
    "model": {"type": "string"},
    "prompt_tokens": {"type": "integer", "minimum": 0},
    "completion_tokens": {"type": "integer", "minimum": 0},
    "reasoning_tokens": {"type": "integer", "minimum": 0},
    "cached_tokens": {"type": "integer", "minimum": 0},
    "text": {"type": "string", "description": "Counted into prompt_tokens when given."},
    "at": {"type": "string", "format": "date-time"},
}
_ROUTE_PROPS = {
    "prompt": {"type": "string"},
    "prompt_tokens": {"type": "integer", "minimum": 0},
    "output_tokens": {"type": "integer", "minimum": 0},
    "category": {"type": "string"},
    "capabilities": {"type": "array", "items": {"enum": ["tools", "vision", "json", "reasoning"]}},
    "priority": {"enum": ["cost", "balanced", "speed", "quality"]},
    "free_preference": {"enum": ["prefer", "only", "avoid", "off"]},
    "budget_usd": {"type": "string"},
    "local_only": {"type": "boolean"},
}
_PATH_ID = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
_SERVED_HEADERS = {
    "x-locallama-model": {"schema": {"type": "string"}, "description": "The model that served."},
    "x-locallama-tier": {
        "schema": {"enum": ["local", "free", "paid", "variable", "unknown"]},
        "description": "Its tier.",
    },
    "x-locallama-cost-usd": {
        "schema": {"type": "string"},
        "description": "The exact cost in USD, or 'unknown' (streams: in the closing comment).",
    },
}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, *, stream: bool = False, headers: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    out: dict[str, Any] = {"description": description, "content": content}
    if headers:
        out["headers"] = _SERVED_HEADERS
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad request (the message says what is wrong).",
        401: "Missing or wrong gateway token.",
        402: "A spend cap refused every paid model.",
        404: "Unknown model.",
        413: "Body too large.",
        429: "Rate-limited everywhere it could go.",
        502: "Every upstream failed.",
        503: "No model could be tried.",
        504: "The upstream timed out.",
    }
    return {
        str(c): {
            "description": text[c],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def openapi_document() -> dict[str, Any]:
    secured = [{"bearer": []}]
    chat_schema = {
        "type": "object",
        "description": "An OpenAI chat-completions request; every field but `locallama` goes "
        "upstream unchanged (tools, tool_choice, response_format, temperature...).",
        "properties": {
            "model": {
                "type": "string",
                "description": "locallama/auto, locallama/free, locallama/local, or a model id.",
            },
            "messages": {"type": "array", "items": {"type": "object"}},
            "stream": {"type": "boolean"},
            "locallama": {"$ref": "#/components/schemas/RoutingOptions"},
        },
        "required": ["model", "messages"],
    }
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Liveness (no token needed).",
                "security": [],
                "responses": {"200": _ok("The gateway is up.")},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document.", "responses": {"200": _ok("OpenAPI 3.1.")}}
        },
        "/v1/models": {
            "get": {
                "summary": "Every routable model, after the virtual ones (OpenAI format).",
                "responses": {"200": _ok("A model list."), **_errors(401)},
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "summary": "One model.",
                "parameters": [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _ok("The model."), **_errors(401, 404)},
            }
        },
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI chat completions, routed (virtual models) or sent as asked, "
                "with fallback along the chain until the first byte.",
                "requestBody": _json_body(chat_schema),
                "responses": {
                    "200": _ok("The completion, or its SSE stream.", stream=True, headers=True),
                    **_errors(400, 401, 402, 404, 413, 429, 502, 503, 504),
                },
            }
        },
        "/v1/messages": {
            "post": {
                "summary": "Anthropic Messages (JSON and streaming), translated to the same "
                "routing and run; Claude model names route as locallama/auto.",
                "requestBody": _json_body({"type": "object"}),
                "responses": {
                    "200": _ok("The message, or its event stream.", stream=True, headers=True),
                    **_errors(400, 401, 402, 429, 502, 503),
                },
            }
        },
        "/v1/messages/count_tokens": {
            "post": {
                "summary": "Anthropic token count (estimated locally).",
                "requestBody": _json_body({"type": "object"}),
                "responses": {"200": _ok("{input_tokens}."), **_errors(400, 401)},
            }
        },
        "/api/free-models": {
            "get": {
                "summary": "The free models with their performance data and the free requests "
                "left today (as `locallama models --free --json`).",
                "responses": {"200": _ok("Models."), **_errors(401)},
            }
        },
        "/api/models": {
            "get": {
                "summary": "Every model with the filters of `locallama models` (query: tier, "
                "source, search, min_context).",
                "responses": {"200": _ok("Models."), **_errors(401)},
            }
        },
        "/api/refresh": {
            "post": {
                "summary": "Refresh every source now; returns what changed.",
                "responses": {"200": _ok("The refresh result."), **_errors(401)},
            }
        },
        "/api/cost": {
            "post": {
                "summary": "Cost of a usage on a model (as `locallama cost --json`); a free "
                'model\'s total is exactly "0" with its free-tier limits.',
                "requestBody": _json_body(
                    {"type": "object", "properties": _USAGE_PROPS, "required": ["model"]}
                ),
                "responses": {"200": _ok("The estimate."), **_errors(400, 401)},
            }
        },
        "/api/route": {
            "post": {
                "summary": "Route a task (as `locallama route --json`).",
                "requestBody": _json_body({"type": "object", "properties": _ROUTE_PROPS}),
                "responses": {"200": _ok("The decision."), **_errors(400, 401)},
            }
        },
        "/api/spend": {
            "get": {
                "summary": "Spend today and this month, by model and client, with the saving "
                "against the baseline (as `locallama spend --json`).",
                "responses": {"200": _ok("The report."), **_errors(401)},
            }
        },
        "/api/status": {
            "get": {
                "summary": "Sources, key present, free quota, spend (as the MCP get_status).",
                "responses": {"200": _ok("The status."), **_errors(401)},
            }
        },
        "/api/traffic": {
            "get": {
                "summary": "The gateway's recent requests and today's count.",
                "responses": {"200": _ok("Traffic."), **_errors(401)},
            }
        },
    }
    for item in paths.values():
        for op in item.values():
            op.setdefault("security", secured)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LocaLLama Router gateway",
            "version": __version__,
            "description": "A local OpenAI- and Anthropic-compatible endpoint that routes each "
            "request to a local, free or paid model and records what it cost.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "RoutingOptions": _OPTIONS},
        },
    }


__all__ = ["openapi_document"]
