"""GET /dashboard/accounts: per firm/program the balance, equity, day and open P&L, each loss
limit's room with its source, the equity curve with its limit lines for today and the last 30
days, the daily P&L bars, and what holds the program back now or soon (dashboard/program_rules.py).

Every figure comes from the account's view (dashboard/account_view.py) and every curve point
from the same AccountService fold at that point's instant (dashboard/equity_curve.py), so the
page shows what the checks read. Each account says its mode: a dry-run account's curve is its
paper book, a live account's only its live closes (account_engine/ledger.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from dashboard import times
from dashboard.account_view import AccountLine, account_rows, account_views, with_bars
from dashboard.blueprint import bp, now, render_page, router
from dashboard.charts import BarChart, LineChart, bar_chart, line_chart
from account_engine.ledger import LedgerEntry
from dashboard.equity_curve import CurvePoint, curve, daily_bars, states_from
from dashboard.program_rules import program_rules
from database.guard_repository import GuardRepository
from web.browser_auth import require_admin_browser

HISTORY = timedelta(days=30)
DAYS_WIDTH, DAYS_HEIGHT = 1300, 170
"""The daily bars span two chart columns: a wider drawing, so their text keeps the charts' size."""


@dataclass(frozen=True)
class AccountCharts:
    today: LineChart
    today_points: tuple[CurvePoint, ...]
    month: LineChart
    month_points: tuple[CurvePoint, ...]
    days: BarChart


def account_charts(line: AccountLine, at: datetime) -> AccountCharts | None:
    """The account's charts at `at`; None without a view (the ledger could not be read)."""
    if line.view is None:
        return None
    accounts = router().accounts
    firm, program = line.firm, line.program
    events = accounts.ledger.events_for_account(firm.code, program.program_id)
    state_at = states_from(
        lambda entries, instant: accounts.view_from(firm.code, program.program_id, events=entries, open_contracts=0,
                                                    now=instant).state,
        [LedgerEntry(e.kind, e.amount, e.occurred_at, e.simulated, e.trade_id) for e in events])
    final = line.view.state
    zone, day_start = firm.trading_day_timezone, firm.trading_day_start
    event_times = [(e.occurred_at, e.kind) for e in events]
    common = dict(now=at, final=final, day_start=day_start, zone=zone)
    since_today, since_month = final.trading_day_start, at - HISTORY
    today = curve(state_at, event_times, since=since_today, max_daily_loss=program.max_daily_loss, **common)
    month = curve(state_at, event_times, since=since_month, max_daily_loss=program.max_daily_loss, **common)
    bars = daily_bars(state_at, since=since_month, **common)
    return AccountCharts(
        line_chart(today, lambda t: times.clock_label(t, zone)), today,
        line_chart(month, lambda t: times.day_label(t, zone)), month,
        bar_chart(bars, lambda b: b.day.strftime("%m-%d"), width=DAYS_WIDTH, height=DAYS_HEIGHT),
    )


@bp.get("/dashboard/accounts")
@require_admin_browser(html=True)
def accounts():
    app = current_app
    at = now()
    lines = account_views(app, at)
    guards = GuardRepository(app.extensions["db_engine"])
    cards: list[dict[str, Any]] = []
    for line, row in zip(lines, account_rows(app, lines)):
        try:
            charts = account_charts(line, at)
        except Exception:  # noqa: BLE001 - a broken ledger shows "no data", never a crashed page
            app.logger.exception("account history unavailable for %s/%s", line.firm.code, line.program.program_id)
            charts = None
        rules = program_rules(guards, line.firm, line.program, at, router().accounts.live_book(line.firm.code))
        cards.append({"row": with_bars(row), "line": line, "charts": charts, "rules": rules})
    return render_page("accounts.html", now=at, cards=cards)
