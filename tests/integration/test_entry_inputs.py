"""The one-statement read of an entry's inputs agrees with the per-table readers, on both backends."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from database import DuplicateIdempotencyKeyError, ExecutionRepository
from database.entry_inputs import read_entry_inputs
from database.ledger_repository import LedgerRepository
from database.safety_repository import SafetyRepository

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


def _open(repo: ExecutionRepository, trade_id: str, firm: str, program: int, contracts: int):
    return repo.open_position(
        trade_id=trade_id, firm_code=firm, program_id=program, symbol="NQ", side="LONG", contracts=contracts,
        entry_price="16500", stop_price="16475", task_id=None, client_order_id=None, dry_run=True,
    )


def _ledger(db_engine):
    """FTMO 1: 5 open (3 + 2), a -800 close and an adjustment; FTMO 2: 4 open; APEX 1: 7 open;
    TOPSTEP (not asked for): 9 open and a close. A released position counts for nothing."""
    positions, ledger = ExecutionRepository(db_engine), LedgerRepository(db_engine)
    first = _open(positions, "T1", "FTMO", 1, 5)
    ledger.close_position(position_id=first.id, contracts=2, amount_for=lambda n: Decimal(-400) * n,
                          exit_price=Decimal("16480"), price_source="SIGNAL_EXIT_PRICE", occurred_at=NOW,
                          task_id=None, actor="test")
    _open(positions, "T2", "FTMO", 1, 2)
    _open(positions, "T2", "FTMO", 2, 4)
    _open(positions, "T2", "APEX", 1, 7)
    released = _open(positions, "T3", "APEX", 1, 6)
    positions.release_position(released.id)
    top = _open(positions, "T4", "TOPSTEP", 1, 9)
    ledger.close_position(position_id=top.id, contracts=1, amount_for=lambda n: Decimal(100) * n,
                          exit_price=Decimal("16505"), price_source="SIGNAL_EXIT_PRICE", occurred_at=NOW,
                          task_id=None, actor="test")
    ledger.record_operator_event(firm_code="FTMO", program_id=1, kind="ADJUSTMENT", amount=Decimal("-25.5"),
                                 occurred_at=NOW - timedelta(hours=1), actor="ops", reason="fees")
    return positions, ledger


def test_one_read_matches_the_per_table_readers(db_engine):
    positions, ledger = _ledger(db_engine)
    SafetyRepository(db_engine).set_trading_state("REDUCING", "test", "ops")
    inputs = read_entry_inputs(db_engine, ["FTMO", "APEX"])

    assert inputs.trading_state == "REDUCING"
    assert inputs.open_at_firm("FTMO") == positions.open_contracts_for_firm("FTMO") == 3 + 2 + 4
    assert inputs.open_at_firm("APEX") == positions.open_contracts_for_firm("APEX") == 7
    assert inputs.open_at_firm("TOPSTEP") == 0  # not asked for
    for firm, program, expected in (("FTMO", 1, 5), ("FTMO", 2, 4), ("APEX", 1, 7), ("APEX", 2, 0)):
        assert inputs.open_at_account(firm, program) == ledger.open_contracts_for_account(firm, program) == expected
    events = inputs.events("FTMO", 1)
    expected = ledger.events_for_account("FTMO", 1)
    assert [(e.kind, e.amount, e.occurred_at, e.simulated, e.trade_id) for e in events] == [
        (e.kind, e.amount, e.occurred_at, e.simulated, e.trade_id) for e in expected]
    assert [(e.kind, e.amount) for e in events] == [("ADJUSTMENT", Decimal("-25.5")), ("CLOSE", Decimal(-800))]
    assert inputs.events("APEX", 1) == [] and inputs.events("TOPSTEP", 1) == []


def test_a_fresh_database_reads_active_and_nothing_open(db_engine):
    inputs = read_entry_inputs(db_engine, ["FTMO"])
    assert (inputs.trading_state, inputs.open_at_firm("FTMO"), inputs.events("FTMO", 1)) == ("ACTIVE", 0, [])
    assert read_entry_inputs(db_engine, []).trading_state == "ACTIVE"  # no firm routed: still valid SQL


def test_creating_an_entry_task_reads_the_same_inputs_and_refuses_a_used_key(db_engine):
    """create_entry_task: the PENDING row and the inputs in one round trip on PostgreSQL."""
    positions, _ = _ledger(db_engine)
    payload = {"event_type": "ENTRY", "trade_id": "T9"}
    task_id, inputs = positions.create_entry_task("T9", "ENTRY", payload, ["FTMO", "APEX"], idempotency_key="T9:ENTRY")
    assert inputs == read_entry_inputs(db_engine, ["FTMO", "APEX"])
    task = positions.get_task(task_id)
    assert (task["status"], task["payload"], task["idempotency_key"]) == ("PENDING", payload, "T9:ENTRY")
    with pytest.raises(DuplicateIdempotencyKeyError) as refused:
        positions.create_entry_task("T9", "ENTRY", payload, ["FTMO"], idempotency_key="T9:ENTRY")
    assert refused.value.existing_task_id == task_id
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM execution_tasks")).scalar_one() == 1


def test_ledger_events_come_back_in_time_order_and_same_instant_ones_in_recorded_order(db_engine):
    """The account state folds the events in this order (the last SET_BALANCE of an instant wins),
    and the read no longer sorts them in Python: the statement must."""
    ledger, positions = LedgerRepository(db_engine), ExecutionRepository(db_engine)
    for amount, at in (("60000", NOW), ("10", NOW - timedelta(days=2)), ("70000", NOW), ("20", NOW - timedelta(days=1))):
        kind = "SET_BALANCE" if Decimal(amount) > 1000 else "ADJUSTMENT"
        ledger.record_operator_event(firm_code="FTMO", program_id=1, kind=kind, amount=Decimal(amount),
                                     occurred_at=at, actor="ops", reason="order test")
    want = [Decimal("10"), Decimal("20"), Decimal("60000"), Decimal("70000")]
    assert [e.amount for e in read_entry_inputs(db_engine, ["FTMO"]).events("FTMO", 1)] == want
    _, inputs = positions.create_entry_task("T-ORDER", "ENTRY", {"trade_id": "T-ORDER"}, ["FTMO"])
    assert [e.amount for e in inputs.events("FTMO", 1)] == want


def test_every_form_of_the_read_carries_the_marks_open_positions_and_equity_peaks(db_engine):
    """Open positions (once any price is stored), the marks and the equity peaks, alike whether
    the ledgers come as events or (PostgreSQL) summarised, and when the read creates the task."""
    from database.entry_inputs import LedgerWindow
    from database.price_repository import PriceRepository

    positions, _ = _ledger(db_engine)
    prices = PriceRepository(db_engine)
    assert read_entry_inputs(db_engine, ["FTMO"]).positions == {}  # no price yet: positions not read
    prices.store_price("NQ", "NQ1!", Decimal("16490.25"), NOW, NOW)
    prices.raise_equity_peak("FTMO", 1, Decimal("100400"), NOW)
    prices.raise_equity_peak("TOPSTEP", 1, Decimal("50100"), NOW)  # not asked for
    firms = ["FTMO", "BULENOX"]  # a firm set of its own: creating the tasks teaches the engine's size hint
    window = LedgerWindow(NOW + timedelta(minutes=1), {f: NOW - timedelta(hours=15) for f in firms})
    reads = [read_entry_inputs(db_engine, firms), read_entry_inputs(db_engine, firms, window),
             positions.create_entry_task("T8", "ENTRY", {"trade_id": "T8"}, firms)[1],
             positions.create_entry_task("T9", "ENTRY", {"trade_id": "T9"}, firms, ledger_window=window)[1]]
    for inputs in reads:
        assert {k: sorted((p.symbol, p.side, p.entry_price, p.contracts, p.dry_run) for p in v)
                for k, v in inputs.positions.items()} == {
            ("FTMO", 1): [("NQ", "LONG", Decimal("16500"), 2, True), ("NQ", "LONG", Decimal("16500"), 3, True)],
            ("FTMO", 2): [("NQ", "LONG", Decimal("16500"), 4, True)]}
        assert [(m.root, m.price, m.at) for m in inputs.marks.values()] == [("NQ", Decimal("16490.25"), NOW)]
        assert inputs.equity_peaks == {("FTMO", 1): Decimal("100400")}
        assert inputs.open_at_account("FTMO", 1) == 5  # the 'P' rows are unchanged
