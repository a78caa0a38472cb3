"""Operator controls for account state: `flask --app web_server account ...` and /api/admin/accounts.

Show an account's state, set/correct its starting balance, record an external P&L adjustment
(fees, a manual trade) and start a new trading day. Each change is one `account_events` row
carrying who (`by`) and why (`reason`), both required, so the ledger is its own audit trail.
The API needs `Authorization: Bearer {ADMIN_TOKEN}`; bad input is a 400 naming the field and
changes nothing.
"""
from __future__ import annotations

import getpass
import json
import logging
from decimal import Decimal
from typing import Annotated, Any

import click
from flask import Blueprint, Flask, current_app, jsonify
from flask.cli import AppGroup
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from account_service import AccountService, UnknownAccountError
from web.admin_auth import require_admin
from web.errors import error_response
from web.json_body import read_json_object

log = logging.getLogger(__name__)
bp = Blueprint("account_admin", __name__, url_prefix="/api/admin/accounts")

Who = Annotated[str, Field(min_length=1, max_length=128, pattern=r"\S")]
Why = Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S")]
Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=18, decimal_places=6)]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    by: Who
    reason: Why


class SetBalance(_Change):
    balance: Annotated[Money, Field(gt=0)]


class Adjustment(_Change):
    amount: Money
    trade_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class NewDay(_Change):
    pass


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
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
        return error_response(400, "invalid_payload", "Invalid fields; nothing was changed.", fields)


@bp.get("")
@require_admin
def list_accounts():
    settings = current_app.config["ROUTER_SETTINGS"]
    accounts = [_state(code, pid, events=0) for code in settings.route_to_firms for pid in settings.firms[code].program_ids]
    return jsonify({"accounts": accounts})


@bp.get("/<firm_code>/<int:program_id>")
@require_admin
def show_account(firm_code: str, program_id: int):
    try:
        return jsonify(_state(firm_code, program_id))
    except UnknownAccountError as exc:
        return error_response(404, "unknown_account", str(exc))


def _change(firm_code: str, program_id: int, model: type[BaseModel], apply: Any):
    parsed = _parse(model)
    if not isinstance(parsed, BaseModel):
        return parsed
    try:
        event = apply(_service(), firm_code.upper(), program_id, parsed)
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


def _cli_service() -> AccountService:
    return current_app.extensions["execution_router"].accounts


def _cli_apply(action: Any) -> None:
    try:
        event = action(_cli_service())
    except UnknownAccountError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Recorded {event.kind} (event {event.id}) by {event.actor}: {event.reason}")


@account_cli.command("show")
@click.argument("firm_code")
@click.argument("program_id", type=int)
@click.option("--events", default=10, show_default=True, help="How many recent ledger events to list.")
def show_command(firm_code: str, program_id: int, events: int) -> None:
    """Print the account state as JSON."""
    try:
        click.echo(json.dumps(_state(firm_code, program_id, events=events), indent=2))
    except UnknownAccountError as exc:
        raise click.ClickException(str(exc)) from exc


@account_cli.command("set-balance")
@click.argument("firm_code")
@click.argument("program_id", type=int)
@click.argument("balance", type=Decimal)
@_by
@_reason
def set_balance_command(firm_code: str, program_id: int, balance: Decimal, by: str, reason: str) -> None:
    """Set or correct the ledger's starting balance (P&L, drawdown). Position sizing keeps using
    {FIRM}_{ID}_ACCOUNT_SIZE: change that variable to size differently."""
    _cli_apply(lambda s: s.set_balance(firm_code.upper(), program_id, balance, actor=by, reason=reason))


@account_cli.command("adjust")
@click.argument("firm_code")
@click.argument("program_id", type=int)
@click.argument("amount", type=Decimal)
@_by
@_reason
@click.option("--trade-id", default=None, help="The trade whose unknown exit P&L this records.")
def adjust_command(firm_code: str, program_id: int, amount: Decimal, by: str, reason: str, trade_id: str | None) -> None:
    """Record an external P&L adjustment (negative = loss), e.g. fees, a manual trade, or the
    P&L of an exit that arrived without a price (--trade-id)."""
    _cli_apply(lambda s: s.adjust(firm_code.upper(), program_id, amount, actor=by, reason=reason, trade_id=trade_id))


@account_cli.command("new-day")
@click.argument("firm_code")
@click.argument("program_id", type=int)
@_by
@_reason
def new_day_command(firm_code: str, program_id: int, by: str, reason: str) -> None:
    """Start a new trading day now (day P&L counts from here)."""
    _cli_apply(lambda s: s.new_day(firm_code.upper(), program_id, actor=by, reason=reason))


def init_app(app: Flask) -> None:
    """Register the admin API and the `account` CLI group (one line in create_app)."""
    app.register_blueprint(bp)
    app.cli.add_command(account_cli)
