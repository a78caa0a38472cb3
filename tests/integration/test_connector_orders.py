"""The connector_orders journal (both backends) and the dispatcher's never-twice rule."""
from __future__ import annotations

from decimal import Decimal

import pytest

from config import parse_settings
from connectors import OrderRequest, client_order_id
from connectors.dispatch import Dispatcher, Submission
from connectors.registry import build_connectors
from simulator import Simulator
from database import ExecutionRepository
from database.orders_repository import ConnectorOrderRepository
from tests.conftest import STEP2_ENV
from tests.e2e.live_support import live_env


def order(task_id: int, contracts: int = 2) -> OrderRequest:
    return OrderRequest(action="ENTRY", firm_code="TOPSTEP", program_id=1, trade_id="T1", task_id=task_id,
                        symbol="NQ", direction="LONG", contracts=contracts, entry_price=Decimal("16500"),
                        stop_loss=Decimal("16475"), client_order_id=client_order_id(task_id, "TOPSTEP", 1, "ENTRY"))


def test_journal_records_once_and_guards_its_status(db_engine):
    repo = ExecutionRepository(db_engine)
    journal = ConnectorOrderRepository(db_engine)
    task_id = repo.create_task("T1", "ENTRY", {"trade_id": "T1"})
    o = order(task_id)
    fields = dict(client_order_id=o.client_order_id, firm_code="TOPSTEP", program_id=1, task_id=task_id,
                  trade_id="T1", action="ENTRY", contracts=2, position_id=None, request=o.to_dict())
    assert journal.record_submission(**fields) is True
    assert journal.record_submission(**fields) is False  # the same client order id is recognised
    assert [r.status for r in journal.unresolved()] == ["PENDING"]
    assert journal.set_outcome(o.client_order_id, "UNKNOWN", reason="TIMEOUT_AFTER_SEND", only_if=("PENDING",))
    assert journal.set_outcome(o.client_order_id, "SUCCESS", firm_order_id="9056", only_if=("PENDING", "UNKNOWN"))
    assert not journal.set_outcome(o.client_order_id, "FAILED", only_if=("PENDING", "UNKNOWN"))
    record = journal.get(o.client_order_id)
    assert (record.status, record.firm_order_id, record.request["contracts"]) == ("SUCCESS", "9056", 2)
    assert journal.unresolved() == []
    with pytest.raises(ValueError):
        journal.set_outcome(o.client_order_id, "DONE")


@pytest.fixture
def topstep():
    """The firm simulator and a live TOPSTEP connector pointed at it."""
    sim = Simulator()
    sim.start(0)
    connector = build_connectors(parse_settings({**STEP2_ENV, **live_env(sim.url, ROUTE_TO_FIRMS="TOPSTEP")}))["TOPSTEP"]
    yield sim, connector
    connector.close()
    sim.stop()


def test_dispatcher_never_sends_a_journalled_order_twice(clean_pg, topstep):
    sim, connector = topstep
    repo = ExecutionRepository(clean_pg)
    dispatcher = Dispatcher(ConnectorOrderRepository(clean_pg))
    task_id = repo.create_task("T1", "ENTRY", {"trade_id": "T1"})
    sub = lambda: Submission(order=order(task_id), connector=connector, send=connector.send_entry_order, position_id=None)
    first, = dispatcher.run([sub()])
    second, = dispatcher.run([sub()])
    assert first.status == "SUCCESS"
    assert (second.status, second.reason) == ("SKIPPED", "ALREADY_SUBMITTED")
    assert len(sim.orders_for("TOPSTEP")) == 1
    dispatcher.shutdown()


def test_the_contract_of_an_entry_finished_after_the_deadline_still_reaches_its_position(clean_pg, topstep):
    """The dispatcher stops waiting at the request's deadline (UNKNOWN); the connector thread
    goes on and sends. The contract it traded must still be recorded, or the exit would look up
    the front contract of its day instead."""
    import time

    from connectors.http_client import Deadline

    sim, connector = topstep
    repo = ExecutionRepository(clean_pg)
    dispatcher = Dispatcher(ConnectorOrderRepository(clean_pg), budget=0.3)
    task_id = repo.create_task("T1", "ENTRY", {"trade_id": "T1"})
    position = repo.open_position(trade_id="T1", firm_code="TOPSTEP", program_id=1, symbol="NQ", side="LONG",
                                  contracts=2, entry_price="16500", stop_price="16475", task_id=task_id,
                                  client_order_id=order(task_id).client_order_id, dry_run=False)

    def slow_send(o: OrderRequest, _deadline: Deadline):  # a thread still busy at the deadline
        time.sleep(0.6)
        return connector.send_entry_order(o, Deadline(2.0))

    def recorded() -> str | None:
        (held,) = repo.open_positions_for_trade("T1")
        return held.firm_contract

    result, = dispatcher.run([Submission(order=order(task_id), connector=connector, send=slow_send,
                                         position_id=position.id)])
    assert (result.status, result.reason) == ("UNKNOWN", "DEADLINE_EXCEEDED")
    for _ in range(50):
        if recorded() is not None:
            break
        time.sleep(0.1)
    assert recorded() == "CON.F.US.ENQ.Z25"
    assert len(sim.orders_for("TOPSTEP")) == 1
    dispatcher.shutdown()


def test_an_order_out_at_the_firm_stays_a_success_when_its_journal_write_fails(clean_pg, topstep):
    """The database refuses connections right after the order went out (as under a connection
    storm): the answer still carries the firm's SUCCESS, and the journal row stays PENDING for the
    reconciler, instead of the whole entry failing with 503 while its orders are live."""
    from connectors.http_client import Deadline
    from database import create_db_engine
    from database.engine import DatabaseTimeouts
    from tests.db_fixtures import postgres_test_url
    from tests.e2e.gunicorn_harness import CuttableProxy

    sim, connector = topstep
    repo = ExecutionRepository(clean_pg)
    proxy = CuttableProxy(postgres_test_url())
    through_proxy = create_db_engine(proxy.url(), timeouts=DatabaseTimeouts(pool_ms=300))
    dispatcher = Dispatcher(ConnectorOrderRepository(through_proxy))
    task_id = repo.create_task("T1", "ENTRY", {"trade_id": "T1"})

    def send_then_lose_the_database(o: OrderRequest, deadline: Deadline):
        result = connector.send_entry_order(o, deadline)
        proxy.cut()
        through_proxy.dispose()  # no pooled connection left: the journal write must connect
        return result

    try:
        result, = dispatcher.run([Submission(order=order(task_id), connector=connector,
                                             send=send_then_lose_the_database, position_id=None)])
        assert (result.status, result.order_id) == ("SUCCESS", str(sim.orders_for("TOPSTEP")[0]["id"]))
        assert ConnectorOrderRepository(clean_pg).get(order(task_id).client_order_id).status == "PENDING"
    finally:
        dispatcher.shutdown()
        through_proxy.dispose()
        proxy.close()


def test_a_connector_call_that_raises_is_unknown_not_an_error(clean_pg, topstep):
    """Nobody knows whether a call that raised reached the firm: UNKNOWN (the position is kept and
    reconciled), and the batch's other orders keep their own results."""
    from connectors.http_client import Deadline

    sim, connector = topstep
    repo = ExecutionRepository(clean_pg)
    dispatcher = Dispatcher(ConnectorOrderRepository(clean_pg))
    first, second = repo.create_task("T1", "ENTRY", {"trade_id": "T1"}), repo.create_task("T2", "ENTRY", {"trade_id": "T2"})

    def broken(_o: OrderRequest, _deadline: Deadline):
        raise RuntimeError("connector bug after the request went out")

    try:
        failed, placed = dispatcher.run([
            Submission(order=order(first), connector=connector, send=broken, position_id=None),
            Submission(order=order(second), connector=connector, send=connector.send_entry_order, position_id=None),
        ])
        assert (failed.status, failed.reason) == ("UNKNOWN", "CONNECTOR_ERROR")
        assert placed.status == "SUCCESS"
        assert len(sim.orders_for("TOPSTEP")) == 1
    finally:
        dispatcher.shutdown()


def test_a_batch_is_journalled_whole_or_not_at_all(db_engine):
    """Every order of a batch is journalled before any is sent; a batch whose write fails leaves
    no row behind (nothing half-recorded), and a replayed batch is recognised order by order."""
    repo = ExecutionRepository(db_engine)
    journal = ConnectorOrderRepository(db_engine)
    task_id = repo.create_task("T1", "ENTRY", {"trade_id": "T1"})

    def fields(program_id: int, request: object) -> dict:
        o = order(task_id)
        return dict(client_order_id=client_order_id(task_id, "TOPSTEP", program_id, "ENTRY"), firm_code="TOPSTEP",
                    program_id=program_id, task_id=task_id, trade_id="T1", action="ENTRY", contracts=2,
                    position_id=None, request=request if request is not None else o.to_dict())

    with pytest.raises(Exception):  # the second order's request cannot be stored as JSON
        journal.record_submissions([fields(1, None), fields(2, {"price": float("nan")})])
    assert journal.unresolved() == []
    assert journal.record_submissions([fields(1, None), fields(2, None)]) == [True, True]
    assert journal.record_submissions([fields(2, None), fields(3, None)]) == [False, True]
    assert sorted(r.program_id for r in journal.unresolved()) == [1, 2, 3]


def test_an_entry_contract_is_noted_with_its_outcome_and_an_overlong_one_is_refused(db_engine):
    """The contract an entry went out for lands on its position with the journal's outcome; one
    longer than the column is not recorded at all (never cut short into another contract's id),
    on both backends, and the order's outcome is recorded regardless."""
    from dataclasses import replace as with_extra

    from connectors.http_client import Deadline
    from connectors.orders import ConnectorResult, OrderStatus

    repo = ExecutionRepository(db_engine)
    journal = ConnectorOrderRepository(db_engine)
    dispatcher = Dispatcher(journal)

    class Placed:  # a live connector whose answer names the contract it traded
        dry_run = False

    def entry(trade_id: str, contract: str) -> tuple[Submission, int]:
        task_id = repo.create_task(trade_id, "ENTRY", {"trade_id": trade_id})
        o = with_extra(order(task_id), trade_id=trade_id)
        position = repo.open_position(trade_id=trade_id, firm_code="TOPSTEP", program_id=1, symbol="NQ", side="LONG",
                                      contracts=2, entry_price="16500", stop_price="16475", task_id=task_id,
                                      client_order_id=o.client_order_id, dry_run=False)

        def send(sent: OrderRequest, _deadline: Deadline) -> ConnectorResult:
            return ConnectorResult("TOPSTEP", 1, OrderStatus.SUCCESS, False, order_id="77",
                                   order=sent.to_dict(), extra={"contract": contract})

        return Submission(order=o, connector=Placed(), send=send, position_id=position.id), position.id  # type: ignore[arg-type]

    try:
        fits, fits_id = entry("T1", "CON.F.US.ENQ.Z25")
        overlong, overlong_id = entry("T2", "C" * 65)
        assert [r.status for r in dispatcher.run([fits, overlong])] == ["SUCCESS", "SUCCESS"]
        contracts = {p.id: p.firm_contract for t in ("T1", "T2") for p in repo.open_positions_for_trade(t)}
        assert contracts == {fits_id: "CON.F.US.ENQ.Z25", overlong_id: None}
        assert [journal.get(s.order.client_order_id).status for s in (fits, overlong)] == ["SUCCESS", "SUCCESS"]
    finally:
        dispatcher.shutdown()
