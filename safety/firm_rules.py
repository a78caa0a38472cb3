"""The firm rules the guard applies to each entry order before the velocity and streak limits:
the rules over time (safety/hours.py), the firm's stop-and-target requirement and the daily locks
(safety/daily_locks.py). Pure but for the one count `opened_since` reads from the database.

`EntryContext` is what the router read for this entry at one instant: `now` (the router's clock),
which firms are routed live, and per account its trading day and day P&L from the same account
views the breach checks used, so the profit target and the breach limits agree on the day.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from account_engine.trading_day import next_trading_day_start, trading_day_start
from config.models import FirmSettings, ProgramSettings
from connectors import OrderRequest
from domain.entry_rule import EntryRule
from safety.daily_locks import check_profit_target, check_stop_and_target, check_trades_per_day, has_target
from safety.hours import time_verdict
from safety.limits import LimitVerdict

OpenedSince = Callable[[datetime, bool], int]
"""Entries opened at the order's program since an instant; True: live entries only."""


@dataclass(frozen=True)
class AccountDay:
    """An account's trading day as its view computed it (an operator's NEW_DAY included)."""

    starts: datetime
    ends: datetime
    day_pl: Decimal


@dataclass(frozen=True)
class EntryContext:
    now: datetime
    live_firms: frozenset[str] = frozenset()
    days: Mapping[tuple[str, int], AccountDay] = field(default_factory=dict)
    has_stop: bool = True
    has_target: bool = False

    @classmethod
    def of(cls, signal: Any, accounts: Mapping[str, Any], live_firms: Iterable[str], now: datetime) -> "EntryContext":
        """From the signal and the routed firms' accounts (`account_service.FirmAccounts` by firm)."""
        days = {(code, pid): AccountDay(view.state.trading_day_start, view.state.next_trading_day_start,
                                        view.state.day_pl)
                for code, firm in accounts.items() for pid, view in firm.views.items()}
        return cls(now=now, live_firms=frozenset(live_firms), days=days,
                   has_stop=getattr(signal, "stop_loss", None) is not None, has_target=has_target(signal))

    def day_of(self, firm: FirmSettings, program_id: int) -> AccountDay | None:
        """The account's day from its view; None without one (then the firm's boundary, no P&L)."""
        return self.days.get((firm.code, program_id))


def firm_rule_verdict(firm: FirmSettings, program: ProgramSettings, context: EntryContext,
                      opened_since: OpenedSince) -> LimitVerdict | None:
    """The first of these rules that refuses an entry of `program` in `context`, or None."""
    now = context.now
    verdict = time_verdict(firm, program, now)
    if verdict is not None:
        return verdict
    live = firm.code in context.live_firms
    verdict, _ = check_stop_and_target(firm.code, firm.require_stop_and_target, live, context.has_stop,
                                       context.has_target)
    if verdict is not None:
        return verdict
    if program.max_trades_per_day is None and program.daily_profit_target is None:
        return None
    day = context.day_of(firm, program.program_id)
    starts = day.starts if day else trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
    ends = day.ends if day else next_trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
    verdict = check_profit_target(day.day_pl if day else None, program.daily_profit_target, ends)
    if verdict is not None or program.max_trades_per_day is None:
        return verdict
    return check_trades_per_day(opened_since(starts, live), program.max_trades_per_day, ends)


def stop_and_target_warnings(firms: Mapping[str, FirmSettings], orders: Iterable[OrderRequest],
                             context: EntryContext) -> tuple[dict[str, Any], ...]:
    """The result's `warnings`: dry-run entries live would refuse for a missing stop or target."""
    out: list[dict[str, Any]] = []
    for order in orders:
        firm = firms.get(order.firm_code)
        if firm is None:
            continue
        _, warning = check_stop_and_target(firm.code, firm.require_stop_and_target, firm.code in context.live_firms,
                                           context.has_stop, context.has_target)
        if warning is not None:
            out.append({"firm_code": order.firm_code, "program_id": order.program_id,
                        "rule": EntryRule.STOP_AND_TARGET_REQUIRED.value, "details": warning})
    return tuple(out)
