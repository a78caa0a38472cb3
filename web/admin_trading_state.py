"""GET/POST /api/admin/trading-state - the kill switch over HTTP (Authorization: Bearer ADMIN_TOKEN).

POST {"state": "HALTED", "reason": "news"} -> 200 {"trading_state": "HALTED", "previous": ...}.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from database.safety_repository import SafetyRepository
from safety.trading_state import normalize_state
from web.admin_auth import require_admin
from web.errors import error_response
from web.json_body import read_json_object

bp = Blueprint("admin_trading_state", __name__)


def _repository() -> SafetyRepository:
    return SafetyRepository(current_app.extensions["db_engine"])


@bp.get("/api/admin/trading-state")
@require_admin
def get_state():
    record = _repository().get_trading_state()
    return jsonify({"trading_state": record.state, "reason": record.reason, "changed_by": record.changed_by,
                    "updated_at": record.updated_at.isoformat() if record.updated_at else None})


@bp.post("/api/admin/trading-state")
@require_admin
def set_state():
    body = read_json_object(storable=True)
    if not isinstance(body, dict):
        return body
    state = normalize_state(body.get("state"))
    if state is None:
        return error_response(400, "invalid_payload", "Unknown trading state.", {"state": "must be ACTIVE, REDUCING or HALTED"})
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        return error_response(400, "invalid_payload", "Invalid reason.", {"reason": "must be text of at most 500 characters"})
    previous = _repository().set_trading_state(state, reason, changed_by="api")
    current_app.logger.warning("trading state %s -> %s via API (%s)", previous.state, state, reason or "no reason")
    return jsonify({"trading_state": state, "previous": previous.state, "reason": reason})
