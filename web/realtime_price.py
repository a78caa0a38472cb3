"""POST /api/realtime-price — the guide's price webhook: the latest price per futures root.

Held to the signal webhook's rules (web/webhook.py): WEBHOOK_ALLOWED_IPS, WEBHOOK_SECRET (body
`secret`, `?token=` or the X-Webhook-Secret header; in a list, every object's own secret or the
header/query), strict JSON within the body limits, a 400 naming each bad field with nothing
stored. A price older than the root's stored one, or than PRICE_MAX_AGE_SECONDS, is ignored and
the answer says so per item: a late alert must never move a mark backwards. Stored prices then
mark every open position of their roots to market (AccountService.mark_to_market), and the
account guard looks at each account they moved (safety/account_guard.py; `guard_trips` in the
answer lists what it flattened).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from database.price_repository import PriceRepository
from domain.account_guard import GuardTrigger
from signals import SignalError
from signals.price_update import parse_price_updates, why_ignored
from web.errors import error_response
from web.json_body import RefusedBody, read_json_value
from web.webhook import _authenticate as authenticate
from web.webhook import source_allowed

bp = Blueprint("realtime_price", __name__)

STORED = "STORED"
IGNORED = "IGNORED"


@bp.post("/api/realtime-price")
def realtime_price():
    router = current_app.extensions["execution_router"]
    received_at = router.clock()
    if not source_allowed():
        return error_response(403, "forbidden_source", "Requests from this address are not allowed (WEBHOOK_ALLOWED_IPS).")
    try:
        data = read_json_value("a JSON object or a list of them")
    except RefusedBody as refused:
        return refused.response
    objects = [o for o in (data if isinstance(data, list) else [data]) if isinstance(o, dict)]
    allowed = [authenticate(o) for o in objects]  # each object loses its secret fields, even after one failed
    if objects and not all(allowed):
        return error_response(401, "unauthorized", "Missing or wrong webhook secret.")
    try:
        updates = parse_price_updates(data)
    except SignalError as exc:
        return error_response(400, "invalid_payload", "The price has invalid fields; nothing was stored.", exc.fields)
    settings = current_app.config["ROUTER_SETTINGS"]
    repository = PriceRepository(current_app.extensions["db_engine"])
    results: list[dict[str, Any]] = []
    stored_roots: set[str] = set()
    for update in updates:
        item = {"symbol": update.symbol, "root": update.root, "price": float(update.price),
                "time": update.time.isoformat()}
        reason = why_ignored(update, received_at, settings.price_max_age_seconds)
        if reason is None:
            outcome = repository.store_price(update.root, update.symbol, update.price, update.time, received_at)
            if outcome.stored:
                stored_roots.add(update.root)
            else:
                reason = (f"out of order: not newer than the stored {update.root} price of "
                          f"{outcome.mark.at.isoformat()}")
        results.append({**item, "status": IGNORED if reason else STORED, **({"reason": reason} if reason else {})})
    live = [code for code, c in router.connectors.items() if not c.dry_run]
    accounts = router.accounts.mark_to_market(stored_roots, live_firms=live, now=received_at) if stored_roots else []
    guard = router.account_guard
    trips = guard.check_accounts([(a["firm_code"], a["program_id"]) for a in accounts], GuardTrigger.PRICE,
                                 received_at) if guard is not None else []
    return jsonify({"status": "ok", "stored": sum(r["status"] == STORED for r in results),
                    "ignored": sum(r["status"] == IGNORED for r in results), "prices": results,
                    "accounts": accounts, "guard_trips": [t.to_dict() for t in trips]}), 200
