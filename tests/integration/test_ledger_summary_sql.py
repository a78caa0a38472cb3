"""PostgreSQL's ledger summary (database/pg_statements.py) agrees with the engine's fold.

An entry on PostgreSQL no longer fetches an account's whole history: the database sums it
(`LedgerSummary`) and the engine computes the state from that. The fold in Python
(`account_engine.ledger.summarize_ledger`) stays the reference - it is what SQLite runs - and
this property test holds the SQL to it on random histories: every event kind, unknown P&L closes
and the adjustments that settle them, same-instant events, events at the trading-day boundary,
operator NEW_DAYs, events after `now`, several accounts side by side; each firm's live book
(live events only) or paper book (after the last paper reset, a simulated NEW_DAY), and the
closing balances of past trading days the end-of-day trail reads.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from account_engine.ledger import compute_account_state, summarize_ledger
from account_engine.trading_day import trading_day_start
from database.entry_inputs import LedgerWindow, read_entry_inputs
from database.tables_ledger import account_events
from prop_firm_registry import get_firm_registry

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
ACCOUNTS = (("FTMO", 1), ("FTMO", 2), ("APEX", 1))
FIRMS = ["FTMO", "APEX"]


def _day_start(firm: str) -> datetime:
    info = get_firm_registry()[firm]
    return trading_day_start(NOW, info.trading_day_start, info.trading_day_timezone)


DAY_STARTS = {firm: _day_start(firm) for firm in FIRMS}
# instants near the interesting edges: both firms' day starts, `now`, and a while back
_MOMENTS = sorted({t + timedelta(minutes=m) for t in (*DAY_STARTS.values(), NOW, NOW - timedelta(days=3))
                   for m in (-61, -1, 0, 1, 45)}
                  | {t - timedelta(days=d) for t in DAY_STARTS.values() for d in (1, 2)})
TRADING_DAYS = {firm: (get_firm_registry()[firm].trading_day_start, get_firm_registry()[firm].trading_day_timezone)
                for firm in FIRMS}

amounts = st.decimals(min_value=-3000, max_value=3000, places=2, allow_nan=False, allow_infinity=False)
trade_ids = st.sampled_from([None, "", "T1", "T2"])


@st.composite
def events(draw):
    kind = draw(st.sampled_from(["CLOSE", "CLOSE", "CLOSE_REVERSED", "ADJUSTMENT", "SET_BALANCE", "NEW_DAY"]))
    amount = None if kind == "NEW_DAY" else draw(st.none() | amounts) if kind == "CLOSE" else draw(amounts)
    if kind == "SET_BALANCE" and amount is not None:
        amount = abs(amount) * 50
    firm, program = draw(st.sampled_from(ACCOUNTS))
    return {"firm_code": firm, "program_id": program, "kind": kind, "amount": amount,
            "occurred_at": draw(st.sampled_from(_MOMENTS)), "simulated": draw(st.booleans()),
            "trade_id": draw(trade_ids), "actor": "property-test"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(events(), max_size=25), live_books=st.fixed_dictionaries({f: st.booleans() for f in FIRMS}),
       trail=st.sampled_from(["INTRADAY", "END_OF_DAY"]))
def test_the_databases_summary_is_the_engines_fold(pg_engine, history, live_books, trail):
    with pg_engine.begin() as connection:
        connection.execute(delete(account_events))
        if history:
            connection.execute(insert(account_events), history)
    window = LedgerWindow(NOW, DAY_STARTS, live_books=live_books, trading_days=TRADING_DAYS)
    summarised = read_entry_inputs(pg_engine, FIRMS, window)
    as_events = read_entry_inputs(pg_engine, FIRMS)  # the same ledgers, every event, in fold order
    assert summarised.as_of == NOW and summarised.ledger == {}
    for firm, program in ACCOUNTS:
        info = get_firm_registry()[firm]
        day = dict(now=NOW, day_begin=DAY_STARTS[firm], day_start=info.trading_day_start,
                   day_timezone=info.trading_day_timezone, live_book=live_books[firm])
        expected = summarize_ledger(as_events.events(firm, program), **day)
        actual = summarised.summary(firm, program) or summarize_ledger([], **day)
        assert actual == expected, (firm, program)
        common = dict(firm_code=firm, program_id=program, account_size=Decimal(100000), open_contracts=0, now=NOW,
                      day_start=info.trading_day_start, day_timezone=info.trading_day_timezone, max_drawdown=Decimal(2000),
                      drawdown_trail=trail, live_book=live_books[firm])
        assert compute_account_state(summary=actual, **common) == compute_account_state(
            entries=as_events.events(firm, program), **common)


def test_the_entry_task_statement_summarises_the_same_and_takes_its_instant_when_it_runs(pg_engine):
    """The router's path: the PENDING insert and the summaries in one statement, the window made by
    a factory only once the connection is in hand; a firm listed twice is counted once."""
    from database import ExecutionRepository
    from tests.db_fixtures import truncate_app_tables

    truncate_app_tables(pg_engine)
    with pg_engine.begin() as connection:
        connection.execute(insert(account_events), [
            {"firm_code": "FTMO", "program_id": 1, "kind": "CLOSE", "amount": Decimal("-250"), "occurred_at": NOW,
             "simulated": False, "actor": "test"},
            {"firm_code": "FTMO", "program_id": 1, "kind": "ADJUSTMENT", "amount": Decimal("40"),
             "occurred_at": NOW - timedelta(days=1), "simulated": False, "actor": "test"},
        ])
    made: list[LedgerWindow] = []

    def factory() -> LedgerWindow:
        made.append(LedgerWindow(NOW, DAY_STARTS))
        return made[-1]

    task_id, inputs = ExecutionRepository(pg_engine).create_entry_task(
        "T1", "SIGNAL_CREATED", {"trade_id": "T1"}, ["FTMO", "FTMO", "APEX"], ledger_window=factory)
    assert task_id == 1 and len(made) == 1 and inputs.as_of == NOW
    summary = inputs.summary("FTMO", 1)
    assert summary == read_entry_inputs(pg_engine, ["FTMO", "APEX"], LedgerWindow(NOW, DAY_STARTS)).summary("FTMO", 1)
    assert (summary.realized, summary.adjustments, summary.closed, summary.peak) == (Decimal(-250), Decimal(40), 1, Decimal(40))
    assert summary.day_begin.utcoffset() == timedelta(0)


def test_a_day_start_in_another_time_zone_is_the_same_instant(pg_engine):
    """The day starts travel as ISO text (pg_statements._csv): an offset other than UTC must mean
    the same instant, so an event an hour before New York's day start is yesterday's P&L."""
    from zoneinfo import ZoneInfo

    from database import pg_statements

    new_york = ZoneInfo("America/New_York")
    day_start = datetime(2026, 3, 9, 18, 0, tzinfo=new_york)  # 22:00 UTC
    with pg_engine.begin() as connection:
        connection.execute(delete(account_events))
        connection.execute(insert(account_events), [
            {"firm_code": "APEX", "program_id": 1, "kind": "CLOSE", "amount": Decimal(amount), "occurred_at": at,
             "simulated": False, "actor": "test"}
            for amount, at in (("-100", day_start - timedelta(hours=1)), ("30", day_start + timedelta(minutes=1)))
        ])
    summary = read_entry_inputs(pg_engine, ["APEX"], LedgerWindow(NOW, {"APEX": day_start})).summary("APEX", 1)
    assert (summary.realized, summary.day_pl) == (Decimal(-70), Decimal(30))
    assert summary.day_begin == day_start
    # a list item holding the separator would be split into two firms: refused, never guessed
    with pytest.raises(ValueError, match="comma"):
        pg_statements._csv(["FTMO,APEX"])


def test_an_entry_reads_a_short_ledger_itself_and_a_long_one_through_the_summary(clean_pg, monkeypatch):
    """`LedgerSizeHint`: while an account has few events the entry fetches them (the summary's
    statement costs PostgreSQL more than they do); once an entry has seen enough, the next one
    has PostgreSQL summarise them. Both reads give the same account state."""
    from config import parse_settings
    from database import ExecutionRepository
    from database.entry_inputs import SUMMARISE_FROM_EVENTS, EntryInputs, LedgerSizeHint, ledger_size_hint
    from execution_router import ExecutionRouter
    from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV

    hint = LedgerSizeHint(threshold=3)
    assert not hint.summarise(["FTMO"])  # nothing seen yet: read the events
    hint.note(["FTMO"], EntryInputs("ACTIVE", ledger={("FTMO", 1): [None, None, None]}))
    assert hint.summarise(["FTMO"]) and not hint.summarise(["FTMO", "APEX"])
    hint.note(["FTMO"], EntryInputs("ACTIVE", summarised=True))
    assert hint.summarise(["FTMO"])  # a summarised read says nothing of the count: a ledger only grows

    now = datetime.now(timezone.utc)
    with clean_pg.begin() as connection:  # a day of small losses on FTMO program 1
        connection.execute(insert(account_events), [
            {"firm_code": "FTMO", "program_id": 1, "kind": "CLOSE", "amount": Decimal("-7.25"),
             "occurred_at": now - timedelta(minutes=5 * (i + 1)), "simulated": False, "actor": "test"}
            for i in range(SUMMARISE_FROM_EVENTS + 6)
        ])
    router = ExecutionRouter(settings=parse_settings(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", DATABASE_URL=PG_URL)),
                             repository=ExecutionRepository(clean_pg))
    reads: list[EntryInputs] = []
    real_create = ExecutionRepository.create_entry_task

    def create_entry_task(*args, **kwargs):
        task_id, inputs = real_create(*args, **kwargs)
        reads.append(inputs)
        return task_id, inputs

    monkeypatch.setattr(ExecutionRepository, "create_entry_task", create_entry_task)
    try:
        assert not ledger_size_hint(clean_pg).summarise(["FTMO"])
        first = router.route(dict(GUIDE_PAYLOAD, trade_id="T1"))  # fetched the 30 events
        assert ledger_size_hint(clean_pg).summarise(["FTMO"])
        second = router.route(dict(GUIDE_PAYLOAD, trade_id="T2"))  # summarised by PostgreSQL
    finally:
        router.close()
    assert len(reads[0].ledger[("FTMO", 1)]) == SUMMARISE_FROM_EVENTS + 6 and not reads[0].summaries  # events
    assert reads[0].as_of is not None and reads[1].as_of is not None  # each read fixes its own instant
    assert reads[1].summary("FTMO", 1) is not None and not reads[1].ledger  # the second was summarised
    ledger_fields = ("balance", "realized_pl", "total_pl", "day_pl", "drawdown", "adjustments", "simulated",
                     "starting_balance", "high_water_mark", "closed_trades", "unknown_pl_closes", "trading_day_start")
    (a,), (b,) = first["account_states"], second["account_states"]
    assert {k: a[k] for k in ledger_fields} == {k: b[k] for k in ledger_fields}
    assert first["account_breaches"] == second["account_breaches"]
    assert a["realized_pl"] == -7.25 * (SUMMARISE_FROM_EVENTS + 6) and a["closed_trades"] == SUMMARISE_FROM_EVENTS + 6
