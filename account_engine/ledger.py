"""The account ledger engine: plain data and `now` in, a frozen AccountState out.

Why recomputed from events instead of kept as running totals: every figure the breach and risk
checks act on (day P&L, total P&L, drawdown) must be explainable from rows an operator can read
(`account_events`), and a corrected starting balance or a late adjustment must give the same
answer as if it had been there from the start. Money is Decimal throughout.

P&L of a closed position = (exit - entry) x contracts x point_value, negated for SHORT.

Drawdown modes (per program, `{FIRM}_{ID}_DRAWDOWN_MODE`):
- STATIC: measured from the starting balance (equity - start, never above 0);
- TRAILING: measured from the equity high-water mark (equity - HWM);
- TRAILING_UNTIL_START: trails like TRAILING until the floor (HWM - max_drawdown) reaches the
  starting balance, then the floor stays at the starting balance (the common "trailing stops at
  the initial balance" rule of Apex/Topstep-style evaluations). Reported drawdown is then
  equity - (start + max_drawdown), so the breach engine fires exactly when equity <= floor.
Where the high-water mark comes from (`{FIRM}_{ID}_DRAWDOWN_TRAIL`, both trailing modes):
- INTRADAY: the highest running balance and the current equity (it moves while trading);
- END_OF_DAY: the highest balance a completed trading day of the firm closed at; it moves only
  at the day boundary, and today's trades and open P&L never raise it (Topstep's rule).
Either way the drawdown itself is measured on the current equity (open P&L included).

Paper and live books: a live-routed account folds only live (non-simulated) events, so a dry-run
fill can neither block nor give room to money. A dry-run account folds every event (the live
closes happened to the account it rehearses) after its last paper reset - a NEW_DAY recorded as
simulated, which the live book ignores. SET_BALANCE and operator NEW_DAYs/ADJUSTMENTs (recorded
as not simulated) count in both books.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from account_engine.trading_day import next_trading_day_start, trading_day_start

STATIC = "STATIC"
TRAILING = "TRAILING"
TRAILING_UNTIL_START = "TRAILING_UNTIL_START"
DRAWDOWN_MODES = (STATIC, TRAILING, TRAILING_UNTIL_START)
INTRADAY = "INTRADAY"
END_OF_DAY = "END_OF_DAY"
DRAWDOWN_TRAILS = (INTRADAY, END_OF_DAY)

CLOSE = "CLOSE"
CLOSE_REVERSED = "CLOSE_REVERSED"
ADJUSTMENT = "ADJUSTMENT"
SET_BALANCE = "SET_BALANCE"
NEW_DAY = "NEW_DAY"
_PL_KINDS = (CLOSE, CLOSE_REVERSED, ADJUSTMENT)

ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger event as the engine needs it (the repository row minus bookkeeping)."""

    kind: str
    amount: Decimal | None
    occurred_at: datetime
    simulated: bool = False
    trade_id: str | None = None


def realized_pl(side: str, entry_price: Decimal, exit_price: Decimal, contracts: int, point_value: Decimal) -> Decimal:
    """(exit - entry) x contracts x point_value, sign by side (LONG gains when price rises)."""
    if side not in ("LONG", "SHORT"):
        raise ValueError(f"side must be LONG or SHORT, got {side!r}")
    move = Decimal(exit_price) - Decimal(entry_price)
    pl = move * Decimal(contracts) * Decimal(point_value)
    return pl if side == "LONG" else -pl


@dataclass(frozen=True)
class AccountState:
    """An account's figures at `as_of`; P&L negative = loss, drawdown <= 0."""

    firm_code: str
    program_id: int
    as_of: datetime
    trading_day_start: datetime
    next_trading_day_start: datetime
    starting_balance: Decimal
    starting_balance_source: str
    realized_pl: Decimal
    adjustments: Decimal
    open_pl: Decimal
    balance: Decimal
    equity: Decimal
    day_pl: Decimal
    total_pl: Decimal
    high_water_mark: Decimal
    drawdown: Decimal
    drawdown_mode: str
    drawdown_trail: str
    drawdown_floor: Decimal | None
    trailing_locked: bool
    open_contracts: int
    closed_trades: int
    unknown_pl_closes: int
    simulated: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    def metrics(self) -> dict[str, Any]:
        """What `evaluate_account_breach` / `evaluate_risk` read (Decimal, compared exactly)."""
        return {
            "day_pl": self.day_pl,
            "total_pl": self.total_pl,
            "drawdown": self.drawdown,
            "open_contracts": self.open_contracts,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: money as floats (display), instants as ISO-8601 UTC."""
        out: dict[str, Any] = {}
        # fields(), not asdict(): every value is flat, and asdict's deep copy was ~4% of a signal.
        for key in _FIELD_NAMES:
            value = getattr(self, key)
            if isinstance(value, Decimal):
                out[key] = float(value)
            elif isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
        return out


_FIELD_NAMES = tuple(f.name for f in fields(AccountState))


@dataclass(frozen=True)
class LedgerSummary:
    """An account's ledger up to an instant, reduced to what its state is computed from.

    `summarize_ledger` folds it from the events; on PostgreSQL the entry read has the database
    compute the same figures (database/pg_statements.py), so an entry does not fetch and fold an
    account's whole history. A property test holds the two to the same answers.
    """

    set_balance: Decimal | None  # the last SET_BALANCE (by time, then as recorded); None: ACCOUNT_SIZE
    day_begin: datetime  # the firm's trading-day start, or a later NEW_DAY the operator recorded
    realized: Decimal  # CLOSE and CLOSE_REVERSED amounts
    adjustments: Decimal  # ADJUSTMENT amounts
    day_pl: Decimal  # P&L amounts at or after day_begin
    peak: Decimal  # the highest running sum of P&L amounts, in event order; at least 0
    closed: int  # CLOSEs with a P&L, less CLOSE_REVERSEDs
    unknown: int  # P&L events without an amount whose trade no ADJUSTMENT settles
    simulated: bool  # any P&L amount from a simulated (dry-run) close
    eod_peak: Decimal = ZERO  # the highest running sum at the close of a completed trading day; at least 0


def trading_date(at: datetime, day_start: time, day_timezone: str) -> date:
    """The firm's trading day `at` falls in, named by the date it began (wall clock in its zone,
    as PostgreSQL's `(at AT TIME ZONE zone) - start` computes it)."""
    local = at.astimezone(ZoneInfo(day_timezone)).replace(tzinfo=None)
    return (local - timedelta(hours=day_start.hour, minutes=day_start.minute, seconds=day_start.second)).date()


def in_book(entry: LedgerEntry, live_book: bool) -> bool:
    """Whether the live book (live_book=True) or the paper book counts this event."""
    return not (live_book and entry.simulated)


def summarize_ledger(entries: Iterable[LedgerEntry], *, now: datetime, day_begin: datetime, day_start: time,
                     day_timezone: str, live_book: bool = False) -> LedgerSummary:
    """Fold the events up to `now` (in time order; equal instants as given) into a LedgerSummary.
    `day_begin` is the firm's trading-day start for `now`; `day_start`/`day_timezone` its boundary
    (for the end-of-day balances); `live_book` selects the live account's events only."""
    ordered = sorted((e for e in entries if e.occurred_at <= now and in_book(e, live_book)),
                     key=lambda e: e.occurred_at)
    set_balance: Decimal | None = None
    reset_at = -1  # position of the last paper reset (a simulated NEW_DAY; the live book has none)
    for position, entry in enumerate(ordered):
        if entry.kind == SET_BALANCE and entry.amount is not None:
            set_balance = Decimal(entry.amount)
        elif entry.kind == NEW_DAY:
            if entry.occurred_at > day_begin:
                day_begin = entry.occurred_at  # the operator started a new day after the firm's boundary
            if entry.simulated:
                reset_at = position
    pl_events = [e for e in ordered[reset_at + 1:] if e.kind in _PL_KINDS]

    # An operator adjustment naming a trade settles that trade's unknown close(s).
    settled = {e.trade_id for e in pl_events if e.kind == ADJUSTMENT and e.trade_id}
    realized = adjustments = day_pl = running = peak = ZERO
    closed = unknown = 0
    simulated = False
    today = trading_date(now, day_start, day_timezone)
    closing: dict[date, Decimal] = {}  # each trading day's last running sum
    for entry in pl_events:
        if entry.amount is None:
            unknown += 0 if entry.trade_id in settled else 1
            continue
        amount = Decimal(entry.amount)
        if entry.kind == ADJUSTMENT:
            adjustments += amount
        else:
            realized += amount
            closed += 1 if entry.kind == CLOSE else -1
        simulated = simulated or entry.simulated
        if entry.occurred_at >= day_begin:
            day_pl += amount
        running += amount
        peak = max(peak, running)
        closing[trading_date(entry.occurred_at, day_start, day_timezone)] = running
    eod_peak = max((value for day, value in closing.items() if day < today), default=ZERO)
    return LedgerSummary(set_balance=set_balance, day_begin=day_begin, realized=realized, adjustments=adjustments,
                         day_pl=day_pl, peak=peak, closed=closed, unknown=unknown, simulated=simulated,
                         eod_peak=max(ZERO, eod_peak))


def compute_account_state(
    *,
    firm_code: str,
    program_id: int,
    account_size: Decimal,
    entries: Iterable[LedgerEntry] = (),
    open_contracts: int,
    now: datetime,
    day_start: time,
    day_timezone: str,
    drawdown_mode: str = TRAILING,
    drawdown_trail: str = INTRADAY,
    max_drawdown: Decimal | None = None,
    live_book: bool = False,
    open_pl: Decimal | None = None,
    equity: Decimal | None = None,
    summary: LedgerSummary | None = None,
    equity_high: Decimal | None = None,
) -> AccountState:
    """Fold the ledger up to `now` into an AccountState.

    `open_pl`/`equity` come from a live account snapshot when one is used; without them open
    positions are valued at entry (0 open P&L): the ledger has no market data.
    Events after `now` are ignored, so a state can be recomputed for any past instant.
    `summary`, when given, replaces `entries`: the same ledger already summarised up to `now`
    for this firm's trading day and book (`summarize_ledger`, or the database's equivalent).
    `live_book`: a live-routed account, whose state folds only live events (module docstring).
    `equity_high`, when given, is a higher equity reached between events (a marked intraday
    high): the intraday trail's high-water mark is at least that.
    """
    if drawdown_mode not in DRAWDOWN_MODES:
        raise ValueError(f"drawdown_mode must be one of {DRAWDOWN_MODES}, got {drawdown_mode!r}")
    if drawdown_trail not in DRAWDOWN_TRAILS:
        raise ValueError(f"drawdown_trail must be one of {DRAWDOWN_TRAILS}, got {drawdown_trail!r}")
    day_next = next_trading_day_start(now, day_start, day_timezone)
    if summary is None:
        summary = summarize_ledger(entries, now=now, day_begin=trading_day_start(now, day_start, day_timezone),
                                   day_start=day_start, day_timezone=day_timezone, live_book=live_book)
    day_begin = summary.day_begin
    notes: list[str] = []

    if summary.set_balance is not None:
        start, start_source = Decimal(summary.set_balance), "SET_BALANCE"
    else:
        start, start_source = Decimal(account_size), "ACCOUNT_SIZE"
    realized, adjustments, closed, unknown = summary.realized, summary.adjustments, summary.closed, summary.unknown
    simulated = summary.simulated
    end_of_day = drawdown_trail == END_OF_DAY
    hwm = start + (summary.eod_peak if end_of_day else summary.peak)
    if unknown:
        notes.append(f"{unknown} close(s) have unknown P&L (no exit price); record each with an adjustment naming its trade.")

    balance = start + realized + adjustments
    current_open_pl = Decimal(open_pl) if open_pl is not None else ZERO
    current_equity = Decimal(equity) if equity is not None else balance + current_open_pl
    day_pl = summary.day_pl + current_open_pl  # open positions' P&L counts toward today (firms measure equity)
    if not end_of_day:  # the intraday trail follows equity (and its marked highs); the end-of-day one waits
        hwm = max(hwm, current_equity, equity_high if equity_high is not None else hwm)
    total_pl = current_equity - start

    floor: Decimal | None = None
    locked = False
    if drawdown_mode == STATIC:
        reference = start
    elif drawdown_mode == TRAILING_UNTIL_START and max_drawdown is not None and hwm - max_drawdown >= start:
        reference, locked = start + max_drawdown, True
    else:
        reference = hwm
    drawdown = min(ZERO, current_equity - reference)
    if max_drawdown is not None:
        floor = reference - max_drawdown

    return AccountState(
        firm_code=firm_code, program_id=program_id, as_of=now,
        trading_day_start=day_begin, next_trading_day_start=day_next,
        starting_balance=start, starting_balance_source=start_source,
        realized_pl=realized, adjustments=adjustments, open_pl=current_open_pl,
        balance=balance, equity=current_equity, day_pl=day_pl, total_pl=total_pl,
        high_water_mark=hwm, drawdown=drawdown, drawdown_mode=drawdown_mode, drawdown_trail=drawdown_trail,
        drawdown_floor=floor, trailing_locked=locked, open_contracts=open_contracts,
        closed_trades=closed, unknown_pl_closes=unknown, simulated=simulated, notes=tuple(notes),
    )
