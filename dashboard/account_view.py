"""Per-account rows for the dashboard bars, the accounts page and `GET /api/accounts`.

`account_views(app)` is the single place that decides what an account's numbers are: the limits
from settings and the state from the AccountService the router's checks read - live firms with
their snapshot policy, exactly as the next entry will read them - so the bars show what the next
entry will be judged on. If the ledger cannot be read the view is None and the P&L fields are
None, meaning "no data" (rendered as such, never as 0).

Each loss limit's room is what is left of it: the limit less the loss counted against it. A
profit counts as no loss, so a day in profit leaves the whole daily limit. `pl_source` says
where the figures came from (LEDGER, SNAPSHOT, LEDGER_FALLBACK, BLOCKED) and `open_pl_source`
where the open P&L did (MARK: the price feed's stored prices; SNAPSHOT; NONE: valued at entry).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask

from account_service import AccountView
from config.models import FirmSettings, ProgramSettings
from database.monitoring_repository import MonitoringRepository


@dataclass(frozen=True)
class AccountLine:
    """One routed firm/program with its settings, its mode and its view now (None: no data)."""

    firm: FirmSettings
    program: ProgramSettings
    mode: str  # LIVE or DRY_RUN
    view: AccountView | None

    @property
    def live(self) -> bool:
        return self.mode == "LIVE"


def _money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def room(loss_pl: Decimal | None, limit: Decimal | None) -> float | None:
    """What is left of a loss limit: the limit less the loss (a profit is no loss), at least 0."""
    if loss_pl is None or limit is None:
        return None
    return float(max(Decimal(0), Decimal(limit) - max(Decimal(0), -Decimal(loss_pl))))


def account_views(app: Flask, now: datetime | None = None) -> list[AccountLine]:
    """Every routed firm/program, read at `now` (default the router's clock) as the checks read it."""
    settings = app.config["ROUTER_SETTINGS"]
    router = app.extensions["execution_router"]
    now = now if now is not None else router.clock()
    lines: list[AccountLine] = []
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        connector = router.connectors.get(code)
        live = not (connector.dry_run if connector is not None else firm.dry_run)
        try:
            views = router.accounts.views_for_firm(code, live=live, now=now)
        except Exception:  # noqa: BLE001 - a broken ledger shows "no data", never a crashed page
            app.logger.exception("account ledger unavailable for %s", code)
            views = {}
        lines.extend(AccountLine(firm, firm.programs[pid], "LIVE" if live else "DRY_RUN", views.get(pid))
                     for pid in firm.program_ids)
    return lines


def account_rows(app: Flask, lines: list[AccountLine] | None = None) -> list[dict[str, Any]]:
    """One dict per routed firm/program; P&L keys are None when unknown."""
    open_by_program = MonitoringRepository(app.extensions["db_engine"]).open_contracts_by_program()
    rows: list[dict[str, Any]] = []
    for line in lines if lines is not None else account_views(app):
        code, program, view = line.firm.code, line.program, line.view
        state = view.state if view is not None else None
        rows.append({
            "firm_code": code,
            "program_id": program.program_id,
            "mode": line.mode,
            "account_size": _money(program.account_size),
            "day_pl": _money(state.day_pl) if state else None,
            "max_daily_loss": _money(program.max_daily_loss),
            "total_pl": _money(state.total_pl) if state else None,
            "max_total_loss": _money(program.max_total_loss),
            "drawdown": _money(state.drawdown) if state else None,
            "max_drawdown": _money(program.max_drawdown),
            "open_contracts": open_by_program.get((code, program.program_id), 0),
            "max_contracts": program.max_contracts,
            "pl_source": view.source if view is not None else None,
            "snapshot_problem": view.snapshot_problem if view is not None else None,
            "balance": _money(state.balance) if state else None,
            "equity": _money(state.equity) if state else None,
            "open_pl": _money(state.open_pl) if state else None,
            "open_pl_source": view.open_pl_source if view is not None else None,
            "high_water_mark": _money(state.high_water_mark) if state else None,
            "drawdown_floor": _money(state.drawdown_floor) if state else None,
            "trading_day_start": state.trading_day_start if state else None,
            "daily_room": room(state.day_pl, program.max_daily_loss) if state else None,
            "total_room": room(state.total_pl, program.max_total_loss) if state else None,
            "drawdown_room": room(-abs(state.drawdown), program.max_drawdown) if state else None,
        })
    return rows


def used_fraction(used_loss: float | None, limit: float | None) -> float | None:
    """How much of a loss limit is used, 0..1 (a profit uses none); None without data or limit."""
    if used_loss is None or limit is None or limit <= 0:
        return None
    return min(1.0, max(0.0, -used_loss if used_loss < 0 else 0.0) / limit)


def with_bars(row: dict[str, Any]) -> dict[str, Any]:
    """The row with the fractions its bars draw (daily, total, drawdown)."""
    dd = row["drawdown"]  # a magnitude (the breach engine reads it the same way)
    return {**row, "daily_used": used_fraction(row["day_pl"], row["max_daily_loss"]),
            "total_used": used_fraction(row["total_pl"], row["max_total_loss"]),
            "drawdown_used": used_fraction(-abs(dd) if dd is not None else None, row["max_drawdown"])}
