"""POST /api/automated-signals/webhook (and the guide's POST /api/live-signals) — TradingView's entry point.

TradingView posts `text/plain` when it decides the alert message is not JSON, cannot set
headers, and gives up after 3 seconds, so the body is parsed as JSON whatever the Content-Type
and the secret may come in the body. NaN/Infinity literals are refused: they are not JSON and
PostgreSQL's JSONB would reject them after the task was half-written.
"""
from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, request

from database.json_documents import json_document_problem
from observability import metrics
from observability.task_context import clear_task
from safety.idempotency import HEADER as IDEMPOTENCY_HEADER
from safety.idempotency import IdempotencyKeyError, header_idempotency_key
from web.errors import error_response
from web.json_body import read_json_object
from web.signal_flow import handle_body

bp = Blueprint("webhook", __name__)

SECRET_FIELDS = ("secret", "passphrase")
SECRET_HEADER = "X-Webhook-Secret"


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
@bp.post("/api/live-signals")  # the guide's legacy path: the same contract
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
        header_key = header_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
    except IdempotencyKeyError as exc:
        return error_response(400, "invalid_header", "The Idempotency-Key header is invalid.", {IDEMPOTENCY_HEADER: str(exc)})
    return handle_body(data, header_key, received_at)


@bp.after_request
def _count_response(response):
    metrics.observe_webhook_response(response.status_code)
    return response


@bp.teardown_request
def _forget_task(_exc):
    clear_task()
