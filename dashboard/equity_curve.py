"""An account's equity curve and daily P&L, from the same ledger fold the loss checks use.

Every point is `state_at(t)`: the account state the ledger engine (account_engine/ledger.py,
through AccountService) computes for instant t, so the curve, its limit lines and the checks
can never disagree. Points are taken at the window's start, at each firm trading-day start in
it (where the daily loss line moves), at each ledger event in it, and now. The ledger has no
price history, so between events the curve is the balance; only the last point (now) carries
open P&L, from the same view the account's bars show (snapshot or marks).

Limit lines, in equity:
- the drawdown floor: the state's `drawdown_floor` (trailing or static, as the program measures it);
- the daily loss line: the equity at which today's loss reaches the program's daily limit,
  equity - day P&L - max daily loss (the day's opening balance less the limit).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from account_engine.ledger import AccountState, LedgerEntry, trading_date
from account_engine.trading_day import next_trading_day_start, trading_day_start

StateAt = Callable[[datetime], AccountState]
MAX_POINTS = 200
"""A chart draws at most this many ledger events, the newest (it then starts just before the first
of them): each point is a fold of the account's whole ledger, so a page costs points x rows."""
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class CurvePoint:
    at: datetime
    equity: Decimal
    balance: Decimal
    day_pl: Decimal
    floor: Decimal | None
    daily_line: Decimal | None
    kind: str  # START, DAY_START, the ledger event's kind, or NOW


@dataclass(frozen=True)
class DayBar:
    day: date  # the firm's trading day, named by the date it began
    starts: datetime
    pl: Decimal
    today: bool  # includes open P&L (the day is not over)


def states_from(fold: Callable[[Sequence[LedgerEntry], datetime], AccountState],
                entries: Iterable[LedgerEntry]) -> StateAt:
    """`state_at` over one account's ledger: `fold(entries, t)` (the ledger engine through the
    account service) given only the entries up to t - the engine ignores later ones anyway - and
    asked once per instant, since a page draws several charts over the same instants."""
    ordered = sorted(entries, key=lambda e: e.occurred_at)
    times = [e.occurred_at for e in ordered]
    seen: dict[datetime, AccountState] = {}

    def state_at(at: datetime) -> AccountState:
        if at not in seen:
            seen[at] = fold(ordered[:bisect.bisect_right(times, at)], at)
        return seen[at]

    return state_at


def _point(state: AccountState, kind: str, max_daily_loss: Decimal | None) -> CurvePoint:
    daily = state.equity - state.day_pl - Decimal(max_daily_loss) if max_daily_loss is not None else None
    return CurvePoint(state.as_of, state.equity, state.balance, state.day_pl, state.drawdown_floor, daily, kind)


def day_starts(since: datetime, now: datetime, day_start: time, zone: str) -> list[datetime]:
    """The firm's trading-day starts after `since`, up to `now`."""
    out, at = [], next_trading_day_start(since, day_start, zone)
    while at <= now:
        out.append(at)
        at = next_trading_day_start(at, day_start, zone)
    return out


def curve(state_at: StateAt, event_times: Iterable[tuple[datetime, str]], *, since: datetime, now: datetime,
          final: AccountState, day_start: time, zone: str, max_daily_loss: Decimal | None) -> tuple[CurvePoint, ...]:
    """The points from `since` to `now`; `final` is the account's view now (open P&L included)."""
    events = sorted((at, kind) for at, kind in event_times if since < at <= now)
    if len(events) > MAX_POINTS:  # the newest: the curve starts just before the first of them
        events = events[-MAX_POINTS:]
        since = events[0][0] - _TICK
    instants = [(since, "START")] + [(at, "DAY_START") for at in day_starts(since, now, day_start, zone)] + events
    points = [_point(state_at(at), kind, max_daily_loss) for at, kind in sorted(instants, key=lambda i: i[0])]
    return tuple(points) + (_point(final, "NOW", max_daily_loss),)


def daily_bars(state_at: StateAt, *, since: datetime, now: datetime, final: AccountState, day_start: time,
               zone: str) -> tuple[DayBar, ...]:
    """Each trading day's P&L as the daily loss check read it at the day's last instant (today: now)."""
    bars = []
    begin = trading_day_start(since, day_start, zone)
    while begin <= now:
        end = next_trading_day_start(begin, day_start, zone)
        today = end > now
        pl = final.day_pl if today else state_at(end - _TICK).day_pl
        bars.append(DayBar(trading_date(begin, day_start, zone), begin, pl, today))
        begin = end
    return tuple(bars)
