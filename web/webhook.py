"""POST /api/automated-signals/webhook — TradingView's entry point.

TradingView posts `text/plain` when it decides the alert message is not JSON, cannot set
headers, and gives up after 3 seconds, so the body is parsed as JSON whatever the Content-Type
and the secret may come in the body. NaN/Infinity literals are refused: they are not JSON and
PostgreSQL's JSONB would reject them after the task was half-written.
"""
from __future__ import annotations

import hmac
import ipaddress
import time
from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from database import DuplicateIdempotencyKeyError
from database.repository import json_document_problem
from safety.idempotency import HEADER as IDEMPOTENCY_HEADER
from safety.idempotency import IdempotencyKeyError, derive_key, retry_key, should_retry, wait_for_result
from execution_router import ResultDocument
from observability import metrics
from observability.task_context import bind_task, clear_task
from observability.task_outcome import record_task_outcome
from signals import SignalError, parse_signal
from web.errors import error_response
from web.json_body import read_json_object

bp = Blueprint("webhook", __name__)

SECRET_FIELDS = ("secret", "passphrase")
SECRET_HEADER = "X-Webhook-Secret"
DUPLICATE_WAIT_SECONDS = 1.5
MAX_FAILED_EXIT_RETRIES = 3
"""Failed attempts of one exit a single request walks past (TradingView resends at most 3 times)."""
"""How long a copy waits for the first copy's result before answering 409 (TradingView: 3 s)."""


@lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def source_allowed() -> bool:
    """WEBHOOK_ALLOWED_IPS check on the client address. ``request.remote_addr`` is the socket
    peer unless TRUSTED_PROXY_COUNT installed ProxyFix, which then takes it from
    X-Forwarded-For - a header anyone can forge, so it is only trusted when configured."""
    cidrs = current_app.config["ROUTER_SETTINGS"].webhook_allowed_networks
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in net for net in _networks(cidrs))


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
    if not source_allowed():
        return error_response(403, "forbidden_source", "Requests from this address are not allowed (WEBHOOK_ALLOWED_IPS).")
    data = read_json_object()  # checked for storable text after authentication, below
    if not isinstance(data, dict):
        return data
    if not _authenticate(data):
        return error_response(401, "unauthorized", "Missing or wrong webhook secret.")
    problem = json_document_problem(data)
    if problem is not None:  # NUL characters or unpaired surrogates: PostgreSQL cannot store them
        return error_response(400, "invalid_payload", "The body contains text that cannot be stored.", {"body": problem})
    try:
        signal = parse_signal(data)
    except SignalError as exc:
        return error_response(400, "invalid_payload", "The signal has invalid fields; nothing was recorded.", exc.fields)
    try:
        key = derive_key(signal, data, request.headers.get(IDEMPOTENCY_HEADER))
    except IdempotencyKeyError as exc:
        return error_response(400, "invalid_header", "The Idempotency-Key header is invalid.", {IDEMPOTENCY_HEADER: str(exc)})
    router = current_app.extensions["execution_router"]
    bind_task(trade_id=signal.trade_id)
    started = time.perf_counter()
    for _ in range(MAX_FAILED_EXIT_RETRIES + 1):
        try:
            result = router.route(signal, raw_payload=data, idempotency_key=key)
            break
        except DuplicateIdempotencyKeyError as exc:
            first = wait_for_result(router.repository.get_log_for_task, exc.existing_task_id, DUPLICATE_WAIT_SECONDS)
            if first is None:
                return error_response(
                    409, "duplicate_in_progress",
                    "The same signal is still being processed; it will not run twice. Retry to get its result.",
                    task_id=exc.existing_task_id, duplicate=True,
                )
            if not should_retry(signal, first):
                return jsonify(first), 200
            key = retry_key(key, exc.existing_task_id)  # a failed exit runs again, once per failure
    else:
        return jsonify(first), 200
    record_task_outcome(current_app, result, time.perf_counter() - started)
    if isinstance(result, ResultDocument):  # the exact text stored in execution_logs
        return current_app.response_class(result.json_text, mimetype="application/json"), 200
    return jsonify(result), 200


@bp.after_request
def _count_response(response):
    metrics.observe_webhook_response(response.status_code)
    return response


@bp.teardown_request
def _forget_task(_exc):
    clear_task()
