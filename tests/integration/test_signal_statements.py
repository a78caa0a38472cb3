"""The two implementations of the signal statements agree: PostgreSQL's own SQL (fewer round
trips) records, locks, reads and finishes exactly what the portable statements do - both run
here against the same PostgreSQL database, the portable ones being the reference."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import insert, text

from database.pg_statements import POSTGRES
from database.signal_statements import PortableStatements
from database.tables_ledger import account_events

IMPLEMENTATIONS = {"portable": PortableStatements(), "postgresql": POSTGRES}
NOW = dt.datetime(2025, 11, 22, 14, 30, tzinfo=dt.timezone.utc)


def _record(statements, connection, key):
    return statements.insert_task(connection, trade_id="T1", event_type="SIGNAL_CREATED", payload={"a": 1},
                                  payload_json='{"a": 1}', idempotency_key=key)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_a_task_is_recorded_once_per_key_locked_and_finished_once(clean_pg, name):
    statements = IMPLEMENTATIONS[name]
    with clean_pg.begin() as connection:
        task_id = _record(statements, connection, "k-1")
        assert task_id == 1 and _record(statements, connection, "k-1") is None  # the key is taken
        assert statements.lock_task(connection, task_id) and not statements.lock_task(connection, 99)
        log_id = statements.finish_task(connection, task_id=task_id, status="COMPLETED", error=None,
                                        result={"routed": False}, body_json='{"routed": false}')
        assert log_id is not None
        assert statements.finish_task(connection, task_id=task_id, status="FAILED", error="late",
                                      result={"routed": True}, body_json='{"routed": true}') is None
    with clean_pg.begin() as connection:
        task = connection.execute(text("SELECT status, error, payload FROM execution_tasks")).one()
        body = connection.execute(text("SELECT response_body FROM execution_logs")).scalar_one()
    assert (task.status, task.error, task.payload) == ("COMPLETED", None, {"a": 1})  # the second finish changed nothing
    assert body == {"routed": False}


def test_both_read_the_same_entry_inputs(clean_pg):
    with clean_pg.begin() as connection:
        connection.execute(insert(account_events), [
            {"firm_code": "FTMO", "program_id": 1, "kind": "CLOSE", "amount": Decimal(-250 + i),
             "occurred_at": NOW - dt.timedelta(minutes=i), "simulated": i % 2 == 0, "actor": "test"}
            for i in range(5)
        ])
        connection.execute(text("INSERT INTO trade_positions (trade_id, firm_code, program_id, symbol, side, "
                                "contracts_opened, contracts_open, status, dry_run) "
                                "VALUES ('T0', 'FTMO', 1, 'NQ', 'LONG', 3, 2, 'OPEN', true)"))
    with clean_pg.begin() as connection:
        reads = {name: s.entry_inputs(connection, ["FTMO", "APEX"], None) for name, s in IMPLEMENTATIONS.items()}
    assert reads["portable"] == reads["postgresql"]
    assert reads["postgresql"].open_at_firm("FTMO") == 2 and len(reads["postgresql"].events("FTMO", 1)) == 5
