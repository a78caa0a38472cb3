"""`account show | set-balance | adjust | new-day | reset-paper | release-guard`: the admin API's account
controls (web/account_admin.py) on the command line.

Each change is one `account_events` row with who (`--by`) and why (`--reason`). Arguments are
validated by the API's models (web/admin_models.py): bad input is refused with one line naming
the argument (exit code 2) and changes nothing.
"""
from __future__ import annotations

import getpass
import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from account_service import AccountService, UnknownAccountError
from web.account_admin import account_state
from web.admin_models import AccountKey, Adjustment, NewDay, SetBalance, ShowAccount, cli_refusal, cli_validate

account = AppGroup("account", help="Show and correct account state (ledger).")


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


_by = click.option("--by", default=_default_actor, show_default="cli:$USER", help="Who makes the change.")
_reason = click.option("--reason", required=True, help="Why (recorded in the audit trail).")
_firm = click.argument("firm_code")
_program = click.argument("program_id")


def _service() -> AccountService:
    return current_app.extensions["execution_router"].accounts


def _unknown_account(key: AccountKey, exc: UnknownAccountError) -> click.UsageError:
    """Name the argument that names no configured account: the firm, or the program within it."""
    if current_app.config["ROUTER_SETTINGS"].firm(key.firm_code) is None:
        return cli_refusal("firm_code", f"{exc} ({key.firm_code} is not in ROUTE_TO_FIRMS)")
    return cli_refusal("program_id", str(exc))


def _apply(key: AccountKey, action: Any) -> None:
    try:
        event = action(_service())
    except UnknownAccountError as exc:
        raise _unknown_account(key, exc) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    paper = " (paper reset)" if event.simulated else ""
    click.echo(f"Recorded {event.kind}{paper} (event {event.id}) by {event.actor}: {event.reason}")


@account.command("show")
@_firm
@_program
@click.option("--events", default="10", show_default=True, help="How many recent ledger events to list (0-500).")
def show_command(firm_code: str, program_id: str, events: str) -> None:
    """Print the account state as JSON."""
    args = cli_validate(ShowAccount, firm_code=firm_code, program_id=program_id, events=events)
    try:
        click.echo(json.dumps(account_state(args.firm_code, args.program_id, events=args.events), indent=2))
    except UnknownAccountError as exc:
        raise _unknown_account(args, exc) from None


@account.command("set-balance")
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
    _apply(key, lambda s: s.set_balance(key.firm_code, key.program_id, change.balance,
                                            actor=change.by, reason=change.reason))


@account.command("adjust")
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
    _apply(key, lambda s: s.adjust(key.firm_code, key.program_id, change.amount, actor=change.by,
                                       reason=change.reason, trade_id=change.trade_id))


@account.command("new-day")
@_firm
@_program
@_by
@_reason
def new_day_command(firm_code: str, program_id: str, by: str, reason: str) -> None:
    """Start a new trading day now (day P&L counts from here)."""
    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(NewDay, by=by, reason=reason)
    _apply(key, lambda s: s.new_day(key.firm_code, key.program_id, actor=change.by, reason=change.reason))


@account.command("reset-paper")
@_firm
@_program
@_by
@_reason
def reset_paper_command(firm_code: str, program_id: str, by: str, reason: str) -> None:
    """Start a clean paper account now: while the firm is dry-run, the account's P&L, drawdown and
    day count from here. The live account's figures never read it."""
    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(NewDay, by=by, reason=reason)
    _apply(key, lambda s: s.reset_paper(key.firm_code, key.program_id, actor=change.by, reason=change.reason))


@account.command("release-guard")
@_firm
@_program
@_by
@_reason
def release_guard_command(firm_code: str, program_id: str, by: str, reason: str) -> None:
    """End the account guard's hold now: the program takes entries again before the next trading
    day. The guard does not trip again on this account today."""
    from database.guard_repository import GuardRepository

    key = cli_validate(AccountKey, firm_code=firm_code, program_id=program_id)
    change = cli_validate(NewDay, by=by, reason=reason)
    router = current_app.extensions["execution_router"]
    try:
        _service().view(key.firm_code, key.program_id)
    except UnknownAccountError as exc:
        raise _unknown_account(key, exc) from None
    ended = GuardRepository(router.repository.engine).release(
        key.firm_code, key.program_id, at=router.clock(), actor=change.by, reason=change.reason)
    if not ended:
        raise click.ClickException(f"The account guard is not holding {key.firm_code} program {key.program_id} now.")
    click.echo(f"Released the account guard's hold on {key.firm_code} program {key.program_id} by {change.by}: "
               f"{change.reason}")
