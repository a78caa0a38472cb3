"""GET/POST /api/admin/trading-state - the kill switch over HTTP (Authorization: Bearer ADMIN_TOKEN).

POST {"state": "HALTED", "reason": "news"} -> 200 {"trading_state": "HALTED", "previous": ...}.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from pydantic import ValidationError

from database.safety_repository import SafetyRepository
from web.admin_auth import require_admin
from web.admin_models import TradingStateChange, field_errors
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
    try:  # the same model validates `flask trading-state`
        change = TradingStateChange.model_validate(body)
    except ValidationError as exc:
        return error_response(400, "invalid_payload", "Invalid fields; nothing was changed.", field_errors(exc))
    state, reason = change.state, change.reason
    previous = _repository().set_trading_state(state, reason, changed_by="api")
    current_app.logger.warning("trading state %s -> %s via API (%s)", previous.state, state, reason or "no reason")
    return jsonify({"trading_state": state, "previous": previous.state, "reason": reason})
