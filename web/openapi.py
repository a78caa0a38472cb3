"""GET /openapi.json - an OpenAPI 3.1 document for the webhook and the statistics API, so
senders and fuzzers (schemathesis) know the contract. The request schema is generated from the
pydantic Signal model and then tightened where the model validates in code (event types,
directions, trade ids); the statistics answer is described field by field (dashboard/stats.py,
dashboard/analytics.py)."""
from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from flask import Blueprint, jsonify

from signals.signal_model import ALL_TYPES, EVENT_ALIASES, Signal
from version import __version__
from web.json_body import MAX_JSON_DEPTH

bp = Blueprint("openapi", __name__)

_DIRECTIONS = ["Bullish", "Bearish", "LONG", "SHORT", "BUY", "SELL"]
_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_RESULT = {
    "type": "object",
    "required": ["routed", "dry_run", "event_type", "trade_id", "task_id", "trading_state",
                 "risk_checks", "program_sizing", "account_breaches", "connector_results"],
    "properties": {
        "routed": {"type": "boolean"},
        "dry_run": {"type": "boolean"},
        "duplicate": {"type": "boolean", "description": "true when this is the stored result of an earlier identical signal"},
        "event_type": {"type": "string"},
        "trade_id": {"type": "string"},
        "task_id": {"type": "integer"},
        "trading_state": {"type": "string", "enum": ["ACTIVE", "REDUCING", "HALTED", "UNKNOWN"]},
        "risk_checks": {"type": "array", "items": {"type": "object"}},
        "program_sizing": {"type": "array", "items": {"type": "object"}},
        "account_breaches": {"type": "array", "items": {"type": "object"}},
        "connector_results": {"type": "array", "items": {"type": "object"}},
        "safety_checks": {"type": "array", "items": {"type": "object"}},
    },
}

_REVERSAL = {
    "type": "object", "required": ["reversal", "closed", "opened", "details"],
    "properties": {"reversal": {"const": True}, "closed": {"$ref": "#/components/schemas/Result"},
                   "opened": {"anyOf": [{"$ref": "#/components/schemas/Result"}, {"type": "null"}]},
                   "details": {"type": "string"}},
}
_BATCH = {
    "type": "object", "required": ["event_type", "batch", "results", "details"],
    "properties": {"event_type": {"const": "MFE_UPDATE_BATCH"}, "batch": {"type": "integer"},
                   "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                   "details": {"type": "string"}},
}


_COUNT = {"type": "integer", "minimum": 0}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_FIRM_COUNTS = {
    "type": "object",
    "description": ("Per stage: approved / rejected (REJECTED or ERROR) / not run. A stage that did not run for an "
                    "account, or a breach APPROVED after its sizing refused the account, counts as not run."),
    "properties": {
        **{f"{stage}_{what}": _COUNT for stage in ("risk", "sizing", "breach") for what in ("approved", "rejected")},
        "sizing_not_run": _COUNT, "breach_not_run": _COUNT,
        **{f"connector_{status}": _COUNT for status in ("success", "failed", "unknown", "skipped", "other")},
        "orders_sent": {**_COUNT, "description": "SUCCESS + FAILED + UNKNOWN: orders that went to the firm"},
        "success_rate": {**_NUMBER_OR_NULL, "description": "percent of orders sent; null when none was sent (dry-run)"},
    },
}
_ANALYTICS = {
    "type": "object",
    "description": "Execution analytics of one firm (the guide's Stage 13L).",
    "properties": {
        "orders": {"type": "object", "properties": {
            **{k: _COUNT for k in ("attempts", "sent", "success", "failed", "unknown", "skipped")},
            "success_rate": _NUMBER_OR_NULL}},
        "modes": {"type": "object", "additionalProperties": _COUNT,
                  "description": "connector results by mode (LIVE, DRY_RUN, NOT_SENT)"},
        "outcome_reasons": {"type": "array", "items": {"type": "object", "properties": {
            "status": {"type": "string"}, "reason": {"type": "string"}, "count": _COUNT}}},
        "latency_ms": {"type": "object", "description": (
            "signal received (its task row) to the firm's answer recorded (the order journal), live orders "
            "answered in the request; nearest-rank percentiles, null without samples"),
            "properties": {"samples": _COUNT, "p50": _NUMBER_OR_NULL, "p95": _NUMBER_OR_NULL}},
        "slippage": {"type": "object", "description": (
            "a connector result's fill_price against the order's signal price, positive = worse for the trader; "
            "null where no firm reported a fill"),
            "properties": {"fills": _COUNT, "avg_points": _NUMBER_OR_NULL, "avg_dollars": _NUMBER_OR_NULL,
                           "total_dollars": _NUMBER_OR_NULL}},
    },
}
_STATS = {
    "type": "object",
    "required": ["executions", "routed", "failed", "firms", "rejections_by_rule", "since", "until",
                 "tasks_by_status", "analytics", "capped"],
    "properties": {
        "executions": _COUNT, "routed": _COUNT, "failed": _COUNT,
        "firms": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/FirmCounts"}},
        "rejections_by_rule": {"type": "array", "items": {"type": "object", "properties": {
            "firm_code": {"type": "string"}, "stage": {"type": "string", "enum": ["risk", "sizing", "breach"]},
            "rule": {"type": "string"}, "count": _COUNT}}},
        "since": {"type": ["string", "null"], "format": "date-time"},
        "until": {"type": ["string", "null"], "format": "date-time"},
        "tasks_by_status": {"type": "object", "additionalProperties": _COUNT},
        "analytics": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/FirmAnalytics"}},
        "capped": {"type": "boolean", "description": "more result documents matched than were read (20,000)"},
    },
}
STATS_SCHEMAS = {"Stats": _STATS, "FirmCounts": _FIRM_COUNTS, "FirmAnalytics": _ANALYTICS}


def stats_operation(error: Any) -> dict[str, Any]:
    window = [{"name": name, "in": "query", "required": False,
               "schema": {"type": "string", "format": "date-time"},
               "description": "ISO 8601 (UTC without a zone; a date is its midnight UTC)"} for name in ("since", "until")]
    return {"get": {
        "summary": "Statistics and execution analytics per firm (default: the last 24 hours)",
        "operationId": "stats", "security": [{"adminBearer": []}], "parameters": window,
        "responses": {
            "200": {"description": "Counts, rejections by rule, per-firm analytics",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stats"}}}},
            "400": error("An unknown or invalid parameter, named in `fields`"),
            "401": error("Missing or wrong admin token"),
            "403": error("ADMIN_TOKEN is not set: the admin API is closed"),
        },
    }}


def signal_request_schema() -> dict[str, Any]:
    schema = copy.deepcopy(Signal.model_json_schema())
    props = schema.setdefault("properties", {})
    props["event_type"] = {
        "type": "string", "enum": sorted(ALL_TYPES | set(EVENT_ALIASES)),
        "description": "Case-insensitive; EXIT_SL/EXIT_BE/EXIT_TP are aliases.",
    }
    props["trade_id"] = {"type": "string", "pattern": r"^[A-Za-z0-9_.:\-]{1,255}$", "example": "20251122_143000_BULLISH"}
    props["direction"] = {"anyOf": [{"type": "string", "enum": _DIRECTIONS}, {"type": "null"}]}
    props["secret"] = {"type": "string", "description": "WEBHOOK_SECRET (or send `passphrase`, `?token=`, X-Webhook-Secret). Never stored."}
    props["passphrase"] = {"type": "string"}
    schema["additionalProperties"] = True
    schema["description"] = (
        "Entries (SIGNAL_CREATED, ENTRY) also need symbol, direction and entry_price (stop_loss: see the "
        "sizing modes), and may carry one of take_profit, take_profit_points, take_profit_percent; "
        "EXIT_PARTIAL needs exit_contracts or exit_fraction. Other keys are stored as received."
    )
    schema.pop("title", None)
    return schema


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def signal_operation(operation_id: str, summary: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "description": ("Also accepts TradingView strategy alerts and the TradersPost format, "
                                "and MFE_UPDATE_BATCH without a trade_id (docs/tradingview-alerts.md); "
                                "a reversal answers with the close and the entry, a batch with each item."),
                "operationId": operation_id,
                "parameters": [
                    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Signal"}},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": {"description": "Routing result (also stored in execution_logs)",
                            "content": {"application/json": {"schema": {"anyOf": [
                                {"$ref": "#/components/schemas/Result"}, _REVERSAL, _BATCH]}}}},
                    "400": error(f"Invalid JSON, arrays/objects nested deeper than {MAX_JSON_DEPTH} levels (`too_deeply_nested`) "
                                 "or invalid fields (named in `fields`); nothing was recorded"),
                    "401": error("Missing or wrong webhook secret"),
                    "403": error("Source address not in WEBHOOK_ALLOWED_IPS"),
                    "409": error("The same signal is still being processed"),
                    "413": error("Body larger than WEBHOOK_MAX_BODY_BYTES, whatever its framing (chunked included)"),
                    "503": error("Database unreachable; resend later"),
                },
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {"title": "Prop-firm execution router", "version": __version__},
        "paths": {
            "/api/automated-signals/webhook": signal_operation("webhook", "Route a TradingView signal"),
            "/api/live-signals": signal_operation("live_signals", "The guide's legacy path: the same contract"),
            "/api/stats": stats_operation(error),
        },
        "components": {
            "schemas": {"Signal": signal_request_schema(), "Result": _RESULT, "Error": _ERROR, **STATS_SCHEMAS},
            "securitySchemes": {"adminBearer": {"type": "http", "scheme": "bearer",
                                                "description": "ADMIN_TOKEN (basic auth with it as the password works too)"}},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())
