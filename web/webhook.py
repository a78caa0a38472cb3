"""POST /api/automated-signals/webhook — TradingView's entry point.

TradingView posts `text/plain` when it decides the alert message is not JSON, cannot set
headers, and gives up after 3 seconds, so the body is parsed as JSON whatever the Content-Type
and the secret may come in the body. NaN/Infinity literals are refused: they are not JSON and
PostgreSQL's JSONB would reject them after the task was half-written.
"""
from __future__ import annotations

import hmac
import json
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from observability import metrics
from observability.task_context import bind_task, clear_task
from observability.task_outcome import record_task_outcome
from signals import SignalError, parse_signal
from web.errors import error_response

bp = Blueprint("webhook", __name__)

SECRET_FIELDS = ("secret", "passphrase")
SECRET_HEADER = "X-Webhook-Secret"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json_body(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity."""
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


def _authenticate(data: dict[str, Any]) -> bool:
    """Constant-time check of WEBHOOK_SECRET from the body, `?token=` or the X-Webhook-Secret header.
    The secret fields are removed from `data` so they are never stored or echoed."""
    expected = current_app.config["ROUTER_SETTINGS"].webhook_secret
    supplied = [data.pop(name) for name in SECRET_FIELDS if name in data]
    supplied += [v for v in (request.args.get("token"), request.headers.get(SECRET_HEADER)) if v]
    if expected is None:
        return True
    want = expected.get_secret_value().encode()
    return any(isinstance(s, str) and hmac.compare_digest(s.encode(), want) for s in supplied)


@bp.post("/api/automated-signals/webhook")
def webhook():
    try:
        data = decode_json_body(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response(400, "invalid_json", "Body must be a JSON object.", {"body": str(exc)})
    if not isinstance(data, dict):
        return error_response(400, "invalid_payload", "Body must be a JSON object.", {"body": "must be a JSON object"})
    if not _authenticate(data):
        return error_response(401, "unauthorized", "Missing or wrong webhook secret.")
    try:
        signal = parse_signal(data)
    except SignalError as exc:
        return error_response(400, "invalid_payload", "The signal has invalid fields; nothing was recorded.", exc.fields)
    bind_task(trade_id=signal.trade_id)
    started = time.perf_counter()
    result = current_app.extensions["execution_router"].route(signal, raw_payload=data)
    record_task_outcome(current_app, result, time.perf_counter() - started)
    return jsonify(result), 200


@bp.after_request
def _count_response(response):
    metrics.observe_webhook_response(response.status_code)
    return response


@bp.teardown_request
def _forget_task(_exc):
    clear_task()
