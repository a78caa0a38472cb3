"""Per-account rows for the dashboard bars and `GET /api/accounts`.

`account_rows(app)` is the single place that decides what an account's numbers are: the limits
from settings and the state from the account ledger (the same AccountService the router's checks
read, so the bars show exactly what the next entry will be judged on). If the ledger cannot be
read the P&L fields are None, meaning "no data" (rendered as such, never as 0).

Each loss limit's room is what is left of it: the limit less the loss counted against it. A
profit counts as no loss, so a day in profit leaves the whole daily limit. `pl_source` says
where the figures came from (LEDGER, SNAPSHOT, ...) and `open_pl_source` where the open P&L
did (MARK: the stored prices; SNAPSHOT; NONE: open positions valued at entry).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask

from database.monitoring_repository import MonitoringRepository


def _money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def room(loss_pl: Decimal | None, limit: Decimal | None) -> float | None:
    """What is left of a loss limit: the limit less the loss (a profit is no loss), at least 0."""
    if loss_pl is None or limit is None:
        return None
    return float(max(Decimal(0), Decimal(limit) - max(Decimal(0), -Decimal(loss_pl))))


def account_rows(app: Flask) -> list[dict[str, Any]]:
    """One dict per routed firm/program; P&L keys are None when unknown."""
    settings = app.config["ROUTER_SETTINGS"]
    router = app.extensions["execution_router"]
    open_by_program = MonitoringRepository(app.extensions["db_engine"]).open_contracts_by_program()
    rows: list[dict[str, Any]] = []
    for code in settings.route_to_firms:
        firm = settings.firms[code]
        connector = router.connectors.get(code)
        mode = "DRY_RUN" if (connector.dry_run if connector is not None else firm.dry_run) else "LIVE"
        try:
            views = router.accounts.views_for_firm(code, now=router.clock())
        except Exception:  # noqa: BLE001 - a broken ledger shows "no data", never a crashed page
            app.logger.exception("account ledger unavailable for %s", code)
            views = {}
        for pid in firm.program_ids:
            program = firm.programs[pid]
            view = views.get(pid)
            state = view.state if view is not None else None
            rows.append({
                "firm_code": code,
                "program_id": pid,
                "mode": mode,
                "account_size": _money(program.account_size),
                "day_pl": _money(state.day_pl) if state else None,
                "max_daily_loss": _money(program.max_daily_loss),
                "total_pl": _money(state.total_pl) if state else None,
                "max_total_loss": _money(program.max_total_loss),
                "drawdown": _money(state.drawdown) if state else None,
                "max_drawdown": _money(program.max_drawdown),
                "open_contracts": open_by_program.get((code, pid), 0),
                "max_contracts": program.max_contracts,
                "pl_source": view.source if view is not None else None,
                "equity": _money(state.equity) if state else None,
                "open_pl": _money(state.open_pl) if state else None,
                "open_pl_source": view.open_pl_source if view is not None else None,
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
