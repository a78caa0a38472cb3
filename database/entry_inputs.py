"""Everything an entry's checks read from the database, in one statement.

An entry needs, for every routed firm: the trading state, the contracts open at the firm (its
max_position_size) and per account, and each account's ledger (loss and drawdown checks). Read
one query at a time that was 1 + 3 per firm round trips (each a parse, plan and execute on the
server), about a third of a dry-run signal's time in `make profile`. One UNION ALL returns it all,
from one snapshot of the database, on PostgreSQL and SQLite alike. The same read carries what
marks the open positions to market: each open position, the latest price per root and each
account's equity peak (database/tables_prices.py), and the account guard's latest hold per account
and book (database/tables_guard.py).
"""
from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
import threading
import weakref
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Boolean, Connection, Engine, Integer, String, bindparam, text
from sqlalchemy.sql.elements import TextClause

from account_engine.ledger import LedgerEntry, LedgerSummary
from account_engine.marks import Mark, OpenPosition
from database.tables import Price, Timestamp
from database.unit_of_work import Connections, connections
from domain.position import PositionStatus
from prop_firm_registry import get_firm_by_code

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class LedgerWindow:
    """The instant an entry's account states are computed for, and each routed firm's trading-day
    start at that instant: what the database needs to summarise the ledgers (PostgreSQL).
    `summarise=False` reads the events instead, for the same instant; None lets the engine's
    `LedgerSizeHint` decide (the router's entries). `live_books` names the firms routed live
    (their accounts fold only live events; absent: dry-run); `trading_days` each firm's
    (start, zone) boundary, the registry's where absent."""

    now: dt.datetime
    day_starts: dict[str, dt.datetime]
    summarise: bool | None = True
    live_books: Mapping[str, bool] = field(default_factory=dict)
    trading_days: Mapping[str, tuple[dt.time, str]] = field(default_factory=dict)

    def trading_day(self, firm_code: str) -> tuple[dt.time, str]:
        if firm_code in self.trading_days:
            return self.trading_days[firm_code]
        info = get_firm_by_code(firm_code)
        if info is None:
            raise ValueError(f"no trading day known for {firm_code!r}")
        return info.trading_day_start, info.trading_day_timezone


@dataclass(frozen=True)
class EntryInputs:
    """The database's answers for one entry (plain values; built once per signal).

    An account's ledger comes either as its events (`ledger`, in fold order) or, read with a
    LedgerWindow on PostgreSQL, already summarised for `as_of` (`summaries`); an account with
    neither has no events.
    """

    trading_state: str
    firm_open: dict[str, int] = field(default_factory=dict)  # every open position (the paper book)
    account_open: dict[tuple[str, int], int] = field(default_factory=dict)
    firm_open_live: dict[str, int] = field(default_factory=dict)  # live positions only (the live book)
    account_open_live: dict[tuple[str, int], int] = field(default_factory=dict)
    ledger: dict[tuple[str, int], list[LedgerEntry]] = field(default_factory=dict)  # in (occurred_at, id) order
    summaries: dict[tuple[str, int], LedgerSummary] = field(default_factory=dict)
    as_of: dt.datetime | None = None  # the LedgerWindow's `now`: the instant the account states are for
    summarised: bool = False  # the database summarised the ledgers (whether or not any had events)
    positions: dict[tuple[str, int], list[OpenPosition]] = field(default_factory=dict)  # open, per account
    marks: dict[str, Mark] = field(default_factory=dict)  # the latest price per futures root
    equity_peaks: dict[tuple[str, int], Decimal] = field(default_factory=dict)  # marked equity highs
    guard_holds: dict[tuple[str, int], list[GuardHold]] = field(default_factory=dict)  # latest per book

    def summary(self, firm_code: str, program_id: int) -> LedgerSummary | None:
        return self.summaries.get((firm_code, program_id))

    def open_at_firm(self, firm_code: str, live_book: bool = False) -> int:
        """Contracts open at the firm: live positions only for a live-routed firm, every one for
        a dry-run firm (a live position left open still holds the account's contracts)."""
        return (self.firm_open_live if live_book else self.firm_open).get(firm_code, 0)

    def open_at_account(self, firm_code: str, program_id: int, live_book: bool = False) -> int:
        return (self.account_open_live if live_book else self.account_open).get((firm_code, program_id), 0)

    def events(self, firm_code: str, program_id: int) -> list[LedgerEntry]:
        return self.ledger.get((firm_code, program_id), [])

    def open_positions(self, firm_code: str, program_id: int) -> list[OpenPosition]:
        return self.positions.get((firm_code, program_id), [])

    def equity_peak(self, firm_code: str, program_id: int) -> Decimal | None:
        return self.equity_peaks.get((firm_code, program_id))

    def guard_hold(self, firm_code: str, program_id: int, now: dt.datetime, live_book: bool) -> GuardHold | None:
        """The account guard's hold on the account at `now`, if any: a live book is held only by a
        live trip (paper never counts as money), a paper book by either."""
        holds = [h for h in self.guard_holds.get((firm_code, program_id), ())
                 if now < h.until and not (live_book and h.simulated)]
        return max(holds, key=lambda h: h.until) if holds else None


@dataclass(frozen=True)
class GuardHold:
    """An account guard trip that keeps its program REDUCING until `until` (database/tables_guard.py)."""

    trip_id: int
    rule: str
    until: dt.datetime
    simulated: bool


@lru_cache(maxsize=1)
def portable_statement() -> TextClause:
    """Built once: the parts are told apart by `part` (S state, P open contracts, E ledger,
    O an open position, M a mark, H an equity peak, G a guard hold)."""
    # The ledger branch comes first: PostgreSQL types a UNION column from its branches in order,
    # so the others' NULLs take the ledger's types instead of defaulting to text. SQLite runs this
    # one; PostgreSQL runs the same query from database/pg_statements.py.
    sql = f"""
        SELECT 'E' AS part, firm_code, program_id, NULL AS contracts, kind, amount, occurred_at,
               simulated, trade_id, id
          FROM account_events WHERE firm_code IN :firms
        UNION ALL
        SELECT 'P', firm_code, program_id, SUM(contracts_open), NULL, NULL, NULL, dry_run, NULL, 0
          FROM trade_positions
         WHERE status = '{PositionStatus.OPEN}' AND firm_code IN :firms
         GROUP BY firm_code, program_id, dry_run
        UNION ALL
        SELECT 'S', NULL, NULL, NULL, state, NULL, NULL, NULL, NULL, 0 FROM trading_state WHERE id = 1
        UNION ALL
        {MARK_ROWS.format(in_firms="IN :firms", pad="")}
        UNION ALL
        {GUARD_ROWS.format(in_firms="IN :firms", pad="")}
        ORDER BY occurred_at, id
    """
    return text(sql).bindparams(bindparam("firms", expanding=True)).columns(
        part=String, firm_code=String, program_id=Integer, contracts=Integer, kind=String,
        amount=Price, occurred_at=Timestamp, simulated=Boolean, trade_id=String, id=Integer,
    )


MARK_ROWS = (
    "SELECT 'O', firm_code, program_id, contracts_open, side, entry_price, NULL, dry_run, symbol, 0{pad} "
    f"FROM trade_positions WHERE status = '{PositionStatus.OPEN}' AND firm_code {{in_firms}} "
    "AND EXISTS (SELECT 1 FROM market_prices) "
    "UNION ALL "
    "SELECT 'M', NULL, NULL, NULL, root, price, price_time, NULL, symbol, 0{pad} FROM market_prices "
    "UNION ALL "
    "SELECT 'H', firm_code, program_id, NULL, NULL, equity_peak, reached_at, NULL, NULL, 0{pad} "
    "FROM account_equity_peaks WHERE firm_code {in_firms}"
)
"""The open positions (only once any price was stored), marks and equity peaks, in the read's
columns: `{in_firms}` the dialect's test for a routed firm, `{pad}` NULLs for extra columns."""

GUARD_ROWS = (
    "SELECT 'G', firm_code, program_id, NULL, rule, NULL, until, simulated, NULL, id{pad} "
    "FROM account_guard_trips g WHERE firm_code {in_firms} AND released_at IS NULL "
    "AND id = (SELECT MAX(id) FROM account_guard_trips l WHERE l.firm_code = g.firm_code "
    "AND l.program_id = g.program_id AND l.simulated = g.simulated AND l.released_at IS NULL)"
)
"""Each account's latest unreleased guard trip per book (its `until` may be past: the reader
compares it with the entry's clock), in the read's columns like MARK_ROWS."""

WindowSource = LedgerWindow | Callable[[], LedgerWindow | None] | None

SUMMARISE_FROM_EVENTS = 24
"""Ledger events (over an entry's accounts) from which PostgreSQL's summary is the cheaper read."""


class LedgerSizeHint:
    """Which of two equivalent reads an entry should use: its accounts' events, folded here, or
    PostgreSQL's summary of them (tests/integration/test_ledger_summary_sql.py holds the two
    equal). The summary's statement costs PostgreSQL more than reading no events, while each
    event fetched and folded costs more here than summed there, so below a couple of dozen
    events the plain read wins - and every account starts with none (docs/performance.md).

    One per engine (`ledger_size_hint`), for the life of the process: it remembers how many
    events the last entry to the same firms read. A ledger only grows, so once summarised a firm
    set stays summarised; a stale count only costs time, never correctness. The first entry after
    a start reads the events (once, however many).
    """

    def __init__(self, threshold: int = SUMMARISE_FROM_EVENTS) -> None:
        self.threshold = threshold
        self._seen: dict[tuple[str, ...], float] = {}

    def summarise(self, firm_codes: Iterable[str]) -> bool:
        return self._seen.get(tuple(firm_codes), 0) >= self.threshold

    def note(self, firm_codes: Iterable[str], inputs: EntryInputs) -> None:
        """After an entry's read: its event count, or "many" for a summarised read."""
        self._seen[tuple(firm_codes)] = math.inf if inputs.summarised else sum(len(e) for e in inputs.ledger.values())

    def window(self, firm_codes: Iterable[str], window: LedgerWindow | None) -> LedgerWindow | None:
        """`window`, deciding (when it leaves it to the hint) whether to ask for the summary."""
        if window is None or window.summarise is not None:
            return window
        return replace(window, summarise=self.summarise(firm_codes))


_HINTS: "weakref.WeakKeyDictionary[Engine, LedgerSizeHint]" = weakref.WeakKeyDictionary()
_HINTS_LOCK = threading.Lock()


def ledger_size_hint(engine: Engine) -> LedgerSizeHint:
    """The engine's hint (one per database per process)."""
    with _HINTS_LOCK:
        hint = _HINTS.get(engine)
        if hint is None:
            hint = _HINTS[engine] = LedgerSizeHint()
        return hint


def window_now(source: WindowSource) -> LedgerWindow | None:
    """The window itself, or made now: a caller passes a factory so that its `now` is taken once
    the database connection is in hand, not before a wait for one - an event committed during
    that wait, stamped after a `now` taken earlier, would be left out of the summary."""
    return source() if callable(source) else source


def read_entry_inputs(db: Engine | Connections, firm_codes: list[str], window: WindowSource = None) -> EntryInputs:
    """Trading state, open contracts and ledgers for `firm_codes`, from one statement. With a
    `window` that asks to summarise, PostgreSQL returns each account's ledger summarised for it
    (SQLite: the events)."""
    with connections(db).transaction(one_statement=True) as connection:
        return _read(connection, firm_codes, window_now(window))


def read_entry_inputs_sized(db: Engine | Connections, firm_codes: list[str], window: WindowSource) -> EntryInputs:
    """`read_entry_inputs`, summarising the ledgers once they are long (`ledger_size_hint`)."""
    conns = connections(db)
    hint = ledger_size_hint(conns.engine)
    with conns.transaction(one_statement=True) as connection:
        inputs = _read(connection, firm_codes, hint.window(firm_codes, window_now(window)))
    hint.note(firm_codes, inputs)
    return inputs


def _read(connection: Connection, firm_codes: list[str], window: LedgerWindow | None = None) -> EntryInputs:
    from database.signal_statements import statements_for

    return statements_for(connection).entry_inputs(connection, firm_codes, window)


def inputs_from_rows(rows: Iterable[Any], window: LedgerWindow | None = None, *,
                     summarised: bool | None = None) -> EntryInputs:
    """EntryInputs from the statement's rows (part, firm_code, program_id, contracts, kind, amount,
    occurred_at, simulated, trade_id, id[, adjustments, day_pl, peak, set_balance, eod_peak]): S state,
    P open contracts (simulated = the positions' dry_run), E a ledger event, L a ledger summary (database/pg_statements.py). The states
    are for the window's `now` (`as_of`) whichever read it was; `summarised` defaults to what
    the window asked for."""
    if summarised is None:
        summarised = window is not None and bool(window.summarise)
    state = ACTIVE  # never set: ACTIVE (as SafetyRepository.get_trading_state)
    firm_open: dict[str, int] = defaultdict(int)
    account_open: dict[tuple[str, int], int] = defaultdict(int)
    firm_open_live: dict[str, int] = defaultdict(int)
    account_open_live: dict[tuple[str, int], int] = defaultdict(int)
    ledger: dict[tuple[str, int], list[LedgerEntry]] = defaultdict(list)
    summaries: dict[tuple[str, int], LedgerSummary] = {}
    positions: dict[tuple[str, int], list[OpenPosition]] = defaultdict(list)
    marks: dict[str, Mark] = {}
    peaks: dict[tuple[str, int], Decimal] = {}
    holds: dict[tuple[str, int], list[GuardHold]] = defaultdict(list)
    for row in rows:
        part, firm, program, contracts, kind, amount, occurred_at, simulated, trade_id, number = row[:10]
        if part == "E":  # the statement returns them in (occurred_at, id) order
            ledger[(firm, program)].append(LedgerEntry(kind, amount, occurred_at, bool(simulated), trade_id))
        elif part == "L":
            adjustments, day_pl, peak, set_balance, eod_peak = row[10:15]
            summaries[(firm, program)] = LedgerSummary(
                set_balance=set_balance, realized=amount, adjustments=adjustments, day_pl=day_pl, peak=peak,
                eod_peak=eod_peak,
                day_begin=occurred_at.astimezone(dt.timezone.utc),  # UTC whatever the session's time zone
                closed=int(contracts), unknown=int(number), simulated=bool(simulated),
            )
        elif part == "P":
            firm_open[firm] += int(contracts or 0)
            account_open[(firm, program)] += int(contracts or 0)
            if not simulated:
                firm_open_live[firm] += int(contracts or 0)
                account_open_live[(firm, program)] += int(contracts or 0)
        elif part == "S":
            state = kind
        elif part == "O":
            positions[(firm, program)].append(OpenPosition(trade_id, kind, amount, int(contracts), bool(simulated)))
        elif part == "M":
            marks[kind] = Mark(kind, amount, occurred_at)
        elif part == "H":
            peaks[(firm, program)] = amount
        elif part == "G":
            holds[(firm, program)].append(GuardHold(int(number), kind, occurred_at, bool(simulated)))
    return EntryInputs(trading_state=state, firm_open=dict(firm_open), account_open=dict(account_open),
                       firm_open_live=dict(firm_open_live), account_open_live=dict(account_open_live), ledger=dict(ledger),
                       summaries=summaries, as_of=window.now if window is not None else None, summarised=summarised,
                       positions=dict(positions), marks=marks, equity_peaks=peaks, guard_holds=dict(holds))
