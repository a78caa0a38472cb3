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
from database.json_documents import json_document_problem
from safety.idempotency import HEADER as IDEMPOTENCY_HEADER
from safety.exit_resend import plan_resend
from safety.idempotency import IdempotencyKeyError, derive_key, retry_key, wait_for_result
from routing.results import ResultDocument
from observability import metrics
from observability.task_context import bind_task, clear_task
from observability.task_outcome import record_task_outcome
from signals import EXIT_TYPES, SignalError, parse_signal
from web.errors import error_response
from web.json_body import read_json_object

bp = Blueprint("webhook", __name__)

SECRET_FIELDS = ("secret", "passphrase")
SECRET_HEADER = "X-Webhook-Secret"
DUPLICATE_WAIT_SECONDS = 1.5
"""How long a copy waits for the first copy's result before answering 409 (TradingView: 3 s)."""
MAX_EXIT_ATTEMPTS = 20
"""Attempts of one exit a resend walks past to reach the latest (each a cheap keyed look-up); the
21st resend of an exit that failed every time answers with the 20th attempt's result."""


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
    received_at = current_app.extensions["execution_router"].clock()  # before any database work: the signal's age
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
    is_exit = signal.event_type in EXIT_TYPES
    # for an exit, which of its attempts predate this request: only those may be resent by it
    newest_before = router.repository.latest_task_id() if is_exit else 0
    resend = None
    for _ in range(MAX_EXIT_ATTEMPTS):
        try:
            result = router.route(signal, raw_payload=data, idempotency_key=key, resend=resend, received_at=received_at)
            break
        except DuplicateIdempotencyKeyError as exc:
            stored = wait_for_result(router.repository.get_log_for_task, exc.existing_task_id, DUPLICATE_WAIT_SECONDS)
            if stored is None:
                return error_response(
                    409, "duplicate_in_progress",
                    "The same signal is still being processed; it will not run twice. Retry to get its result.",
                    task_id=exc.existing_task_id, duplicate=True,
                )
            # an exit that did not get through everywhere runs again where it failed, once per
            # attempt; a copy of a resend (its attempt newer than this request, or still running
            # when first looked at) gets that attempt's result instead
            resend = plan_resend(stored.body, exc.existing_task_id) if is_exit else None
            concurrent = not stored.finished_before or exc.existing_task_id > newest_before
            if resend is None or concurrent:
                return jsonify(stored.body), 200
            key = retry_key(key, exc.existing_task_id)
    else:
        return jsonify(stored.body), 200
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
