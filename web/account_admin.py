"""Operator controls for account state over HTTP: /api/admin/accounts (the same controls on the
command line: cli/account.py).

Show an account's state, set/correct its starting balance, record an external P&L adjustment
(fees, a manual trade) and start a new trading day. Each change is one `account_events` row
carrying who (`by`) and why (`reason`), both required, so the ledger is its own audit trail.
The API needs `Authorization: Bearer {ADMIN_TOKEN}`; bad input is a 400 naming the field and
changes nothing.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from database.guard_repository import GuardRepository
from account_service import AccountService, UnknownAccountError
from web.admin_auth import require_admin
from web.admin_models import (
    AccountKey,
    Adjustment,
    NewDay,
    SetBalance,
    field_errors,
)
from web.errors import error_response
from web.json_body import read_json_object

log = logging.getLogger(__name__)
bp = Blueprint("account_admin", __name__, url_prefix="/api/admin/accounts")

def _service() -> AccountService:
    return current_app.extensions["execution_router"].accounts


def account_state(firm_code: str, program_id: int, events: int = 20) -> dict[str, Any]:
    """The account as the API and `account show` print it: its state and latest ledger events."""
    service = _service()
    view = service.view(firm_code.upper(), program_id)
    recent = service.ledger.events_for_account(view.state.firm_code, view.state.program_id, limit=events)
    return {**view.to_dict(), "guard": guard_state(view.state.firm_code, view.state.program_id),
            "recent_events": [e.to_dict() for e in recent]}


def guard_state(firm_code: str, program_id: int) -> dict[str, Any]:
    """The account guard's buffer, whether it holds the program now, and its latest trip."""
    router = current_app.extensions["execution_router"]
    program = router.settings.firms[firm_code].programs[program_id]
    latest = GuardRepository(router.repository.engine).latest(firm_code, program_id)
    return {"buffer": float(program.guard_buffer) if program.guard_buffer is not None else None,
            "holding": latest is not None and latest.holds(router.clock()),
            "latest_trip": latest.to_dict() if latest is not None else None}


def _parse(model: type[BaseModel]) -> BaseModel | tuple[Any, int]:
    data = read_json_object(storable=True)
    if not isinstance(data, dict):
        return data
    if isinstance(data.get("balance"), bool) or isinstance(data.get("amount"), bool):
        return error_response(400, "invalid_payload", "Invalid fields; nothing was changed.", {"amount": "must be a number"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return error_response(400, "invalid_payload", "Invalid fields; nothing was changed.", field_errors(exc))


def _account_key(firm_code: str, program_id: int) -> AccountKey | tuple[Any, int]:
    """The URL's account, or the 404 naming what no account can be called."""
    try:
        return AccountKey(firm_code=firm_code, program_id=program_id)
    except ValidationError as exc:
        return error_response(404, "unknown_account", "No such account.", field_errors(exc))


@bp.get("")
@require_admin
def list_accounts():
    settings = current_app.config["ROUTER_SETTINGS"]
    accounts = [account_state(code, pid, events=0) for code in settings.route_to_firms for pid in settings.firms[code].program_ids]
    return jsonify({"accounts": accounts})


@bp.get("/<firm_code>/<int:program_id>")
@require_admin
def show_account(firm_code: str, program_id: int):
    key = _account_key(firm_code, program_id)
    if not isinstance(key, AccountKey):
        return key
    try:
        return jsonify(account_state(key.firm_code, key.program_id))
    except UnknownAccountError as exc:
        return error_response(404, "unknown_account", str(exc))


def _change(firm_code: str, program_id: int, model: type[BaseModel], apply: Any):
    key = _account_key(firm_code, program_id)
    if not isinstance(key, AccountKey):
        return key
    firm_code, program_id = key.firm_code, key.program_id
    parsed = _parse(model)
    if not isinstance(parsed, BaseModel):
        return parsed
    try:
        event = apply(_service(), firm_code, program_id, parsed)
    except UnknownAccountError as exc:
        return error_response(404, "unknown_account", str(exc))
    except ValueError as exc:
        return error_response(400, "invalid_payload", str(exc))
    try:
        account = account_state(firm_code, program_id, events=0)
    except SQLAlchemyError:  # the change is committed: a 503 would invite a resend that books it twice
        log.exception("account %s/%s changed (event %s) but could not be read back", firm_code, program_id, event.id)
        return jsonify({"event": event.to_dict(), "account": None,
                        "warning": "The change was recorded; the account could not be read back. Do not resend it."}), 201
    return jsonify({"event": event.to_dict(), "account": account}), 201


@bp.post("/<firm_code>/<int:program_id>/balance")
@require_admin
def set_balance(firm_code: str, program_id: int):
    return _change(firm_code, program_id, SetBalance,
                   lambda s, f, p, m: s.set_balance(f, p, m.balance, actor=m.by, reason=m.reason))


@bp.post("/<firm_code>/<int:program_id>/adjustments")
@require_admin
def adjust(firm_code: str, program_id: int):
    return _change(firm_code, program_id, Adjustment,
                   lambda s, f, p, m: s.adjust(f, p, m.amount, actor=m.by, reason=m.reason, trade_id=m.trade_id))


@bp.post("/<firm_code>/<int:program_id>/new-day")
@require_admin
def new_day(firm_code: str, program_id: int):
    return _change(firm_code, program_id, NewDay, lambda s, f, p, m: s.new_day(f, p, actor=m.by, reason=m.reason))
