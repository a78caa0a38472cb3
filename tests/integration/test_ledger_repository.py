"""LedgerRepository on both backends: a close and its P&L row are one unit of work."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from database import ExecutionRepository
from database.ledger_repository import LedgerRepository

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


def _open(repo: ExecutionRepository, contracts: int = 3):
    return repo.open_position(
        trade_id="T1", firm_code="FTMO", program_id=1, symbol="NQ", side="LONG", contracts=contracts,
        entry_price="16500", stop_price="16475", task_id=None, client_order_id=None, dry_run=True,
    )


def test_close_writes_the_pl_row_in_the_same_transaction(db_engine):
    positions, ledger = ExecutionRepository(db_engine), LedgerRepository(db_engine)
    position = _open(positions)
    closed = ledger.close_position(
        position_id=position.id, contracts=2, amount_for=lambda n: Decimal(-20) * n * 20,
        exit_price=Decimal("16480"), price_source="SIGNAL_EXIT_PRICE", occurred_at=NOW, task_id=None, actor="test",
    )
    assert (closed.contracts, closed.amount) == (2, Decimal(-800))
    [event] = ledger.events_for_account("FTMO", 1)
    assert (event.kind, event.amount, event.contracts, event.entry_price, event.exit_price, event.simulated) == (
        "CLOSE", Decimal(-800), 2, Decimal(16500), Decimal(16480), True)
    assert event.occurred_at == NOW and event.trade_id == "T1" and event.position_id == position.id
    assert ledger.open_contracts_for_account("FTMO", 1) == 1


def test_a_failure_while_recording_pl_leaves_the_position_open(db_engine):
    positions, ledger = ExecutionRepository(db_engine), LedgerRepository(db_engine)
    position = _open(positions)

    def broken(_taken: int) -> Decimal:
        raise RuntimeError("no point value")

    with pytest.raises(RuntimeError):
        ledger.close_position(position_id=position.id, contracts=3, amount_for=broken, exit_price=None,
                              price_source="UNKNOWN", occurred_at=NOW, task_id=None, actor="test")
    assert positions.open_positions_for_trade("T1")[0].contracts_open == 3
    assert ledger.events_for_account("FTMO", 1) == []


def test_closing_a_closed_position_records_nothing(db_engine):
    positions, ledger = ExecutionRepository(db_engine), LedgerRepository(db_engine)
    position = _open(positions, 1)
    args = dict(position_id=position.id, contracts=1, amount_for=lambda n: Decimal(0), exit_price=Decimal(16500),
                price_source="ENTRY_PRICE", occurred_at=NOW, task_id=None, actor="test")
    assert ledger.close_position(**args).contracts == 1
    assert ledger.close_position(**args).event_id is None
    assert len(ledger.events_for_account("FTMO", 1)) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="CLOSE", amount=Decimal(1)), "kind"),
    (dict(kind="ADJUSTMENT", amount=None), "amount"),
    (dict(kind="ADJUSTMENT", amount=Decimal(1), reason=" "), "reason"),
    (dict(kind="ADJUSTMENT", amount=Decimal(1), actor=""), "actor"),
    (dict(kind="ADJUSTMENT", amount=Decimal(1), occurred_at=datetime(2026, 1, 1)), "occurred_at"),
])
def test_operator_events_need_kind_amount_who_why_and_an_aware_time(db_engine, kwargs, message):
    ledger = LedgerRepository(db_engine)
    args = dict(firm_code="FTMO", program_id=1, occurred_at=NOW, actor="ops", reason="why", **{})
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ledger.record_operator_event(**args)
    assert ledger.events_for_account("FTMO", 1) == []
