"""Operator controls for account state: `flask --app web_server account ...` and /api/admin/accounts.

Show an account's state, set/correct its starting balance, record an external P&L adjustment
(fees, a manual trade) and start a new trading day. Each change is one `account_events` row
carrying who (`by`) and why (`reason`), both required, so the ledger is its own audit trail.
The API needs `Authorization: Bearer {ADMIN_TOKEN}`; bad input is a 400 naming the field and
changes nothing. The CLI validates with the same models (web/admin_models.py) and refuses bad
input with one line naming the argument (exit code 2).
"""
from __future__ import annotations

import getpass
import json
import logging
from typing import Any

import click
from flask import Blueprint, Flask, current_app, jsonify
from flask.cli import AppGroup
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from account_service import AccountService, UnknownAccountError
from web.admin_auth import require_admin
from web.admin_models import (
    AccountKey,
    Adjustment,
    NewDay,
    SetBalance,
    ShowAccount,
    cli_refusal,
    cli_validate,
    field_errors,
)
from web.errors import error_response
from web.json_body import read_json_object

log = logging.getLogger(__name__)
bp = Blueprint("account_admin", __name__, url_prefix="/api/admin/accounts")

def _service() -> AccountService:
    return current_app.extensions["execution_router"].accounts


def _state(firm_code: str, program_id: int, events: int = 20) -> dict[str, Any]:
    service = _service()
    view = service.view(firm_code.upper(), program_id)
    recent = service.ledger.events_for_account(view.state.firm_code, view.state.program_id, limit=events)
    return {**view.to_dict(), "recent_events": [e.to_dict() for e in recent]}


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
    accounts = [_state(code, pid, events=0) for code in settings.route_to_firms for pid in settings.firms[code].program_ids]
    return jsonify({"accounts": accounts})


@bp.get("/<firm_code>/<int:program_id>")
@require_admin
def show_account(firm_code: str, program_id: int):
    key = _account_key(firm_code, program_id)
    if not isinstance(key, AccountKey):
        return key
    try:
        return jsonify(_state(key.firm_code, key.program_id))
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
        account = _state(firm_code, program_id, events=0)
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


# -- CLI ---------------------------------------------------------------------------------------

account_cli = AppGroup("account", help="Show and correct account state (ledger).")


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


_by = click.option("--by", default=_default_actor, show_default="cli:$USER", help="Who makes the change.")
_reason = click.option("--reason", required=True, help="Why (recorded in the audit trail).")
_firm = click.argument("firm_code")
_program = click.argument("program_id")


def _cli_service() -> AccountService:
    return current_app.extensions["execution_router"].accounts


def _unknown_account(key: AccountKey, exc: UnknownAccountError) -> click.UsageError:
    """Name the argument that names no configured account: the firm, or the program within it."""
    if current_app.config["ROUTER_SETTINGS"].firm(key.firm_code) is None:
        return cli_refusal("firm_code", f"{exc} ({key.firm_code} is not in ROUTE_TO_FIRMS)")
    return cli_refusal("program_id", str(exc))


def _cli_apply(key: AccountKey, action: Any) -> None:
    try:
        event = action(_cli_service())
    except UnknownAccountError as exc:
        raise _unknown_account(key, exc) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Recorded {event.kind} (event {event.id}) by {event.actor}: {event.reason}")


@account_cli.command("show")
@_firm
@_program
@click.option("--events", default="10", show_default=True, help="How many recent ledger events to list (0-500).")
def show_command(firm_code: str, program_id: str, events: str) -> None:
    """Print the account state as JSON."""
    args = cli_validate(ShowAccount, firm_code=firm_code, program_id=program_id, events=events)
    try:
        click.echo(json.dumps(_state(args.firm_code, args.program_id, events=args.events), indent=2))
    except UnknownAccountError as exc:
        raise _unknown_account(args, exc) from None


@account_cli.command("set-balance")
@_firm
@_program
@click.argument("balance")
@_by
@_reason
def set_balance_command(firm_code: str, program_id: str, balance: str, by: str, reason: str) -> None:
    """Set or correct the ledger's starting balance (P&L, drawdown). Position sizing keeps using
    {FIRM}_{ID}_ACCOUNT_SIZE: change that variable to size differently."""
    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(SetBalance, balance=balance, by=by, reason=reason)
    _cli_apply(key, lambda s: s.set_balance(key.firm_code, key.program_id, change.balance,
                                            actor=change.by, reason=change.reason))


@account_cli.command("adjust")
@_firm
@_program
@click.argument("amount")
@_by
@_reason
@click.option("--trade-id", default=None, help="The trade whose unknown exit P&L this records.")
def adjust_command(firm_code: str, program_id: str, amount: str, by: str, reason: str, trade_id: str | None) -> None:
    """Record an external P&L adjustment (negative = loss), e.g. fees, a manual trade, or the
    P&L of an exit that arrived without a price (--trade-id)."""
    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(Adjustment, amount=amount, by=by, reason=reason, trade_id=trade_id)
    _cli_apply(key, lambda s: s.adjust(key.firm_code, key.program_id, change.amount, actor=change.by,
                                       reason=change.reason, trade_id=change.trade_id))


@account_cli.command("new-day")
@_firm
@_program
@_by
@_reason
def new_day_command(firm_code: str, program_id: str, by: str, reason: str) -> None:
    """Start a new trading day now (day P&L counts from here)."""
    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(NewDay, by=by, reason=reason)
    _cli_apply(key, lambda s: s.new_day(key.firm_code, key.program_id, actor=change.by, reason=change.reason))


def init_app(app: Flask) -> None:
    """Register the admin API and the `account` CLI group (one line in create_app)."""
    app.register_blueprint(bp)
    app.cli.add_command(account_cli)
