"""Crash recovery of tasks stuck in PENDING/PROCESSING (SQLite and PostgreSQL; concurrency on PG)."""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text, update

from connectors import SUCCESS, BaseConnector, ConnectorResult, OrderRequest
from connectors.base_connector import OrderLookup
from database.orders_repository import ConnectorOrderRepository
from database import ExecutionRepository, TaskNotFoundError
from database.safety_repository import SafetyRepository
from database.unit_of_work import UnitOfWork
from database.tables import execution_tasks
from execution_router import ExecutionRouter
from safety.recovery import STALE_ENTRY, UNKNOWN_OUTCOME, recover_stuck_tasks
from tests.conftest import GUIDE_PAYLOAD
from tests.db_fixtures import truncate_app_tables


def stuck_task(engine, payload: dict[str, Any], status: str = "PROCESSING", age_seconds: int = 3600) -> int:
    repo = ExecutionRepository(engine)
    task_id = repo.create_task(payload["trade_id"], payload["event_type"], payload,
                               idempotency_key=f"{payload['trade_id']}:{payload['event_type']}")
    repo.set_task_status(task_id, status)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)
    with engine.begin() as conn:
        conn.execute(update(execution_tasks).where(execution_tasks.c.id == task_id).values(updated_at=old))
    return task_id


def test_stuck_dry_run_entry_is_rerun_exactly_once(app):
    engine = app.extensions["db_engine"]
    task_id = stuck_task(engine, dict(GUIDE_PAYLOAD, event_type="SIGNAL_CREATED"))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["recover-tasks"])
    assert first.exit_code == 0 and f"task {task_id}: RERUN" in first.output
    second = runner.invoke(args=["recover-tasks"])
    assert "Recovered 0 task(s)." in second.output
    repo = ExecutionRepository(engine)
    assert repo.get_task(task_id)["status"] == "COMPLETED"
    body = repo.get_log_for_task(task_id)["response_body"]
    assert body["recovered"] is True and {r["reason"] for r in body["connector_results"]} == {"GLOBAL_DRY_RUN_ENABLED"}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM trade_positions")).scalar_one() == 2
    # The resent webhook now gets the recovered result, not a second run.
    resent = app.test_client().post("/api/automated-signals/webhook", json=GUIDE_PAYLOAD).get_json()
    assert resent["duplicate"] is True and resent["task_id"] == task_id


def test_recent_tasks_are_left_alone(app):
    engine = app.extensions["db_engine"]
    task_id = stuck_task(engine, GUIDE_PAYLOAD, age_seconds=0)
    assert recover_stuck_tasks(app.extensions["execution_router"], 120) == []
    assert ExecutionRepository(engine).get_task(task_id)["status"] == "PROCESSING"


def test_stuck_tasks_are_recovered_at_start_up(make_app, app):
    task_id = stuck_task(app.extensions["db_engine"], GUIDE_PAYLOAD, status="PENDING")
    second = make_app()  # a restarted worker
    assert ExecutionRepository(second.extensions["db_engine"]).get_task(task_id)["status"] == "COMPLETED"


def test_concurrent_recoverers_claim_each_task_once(make_app, backend):
    app = make_app(RECOVERY_INTERVAL_SECONDS="0")
    engine = app.extensions["db_engine"]
    ids = [stuck_task(engine, {"event_type": "MFE_UPDATE", "trade_id": f"T{i}", "be_mfe": i}) for i in range(6)]
    routers = [ExecutionRouter(settings=app.config["ROUTER_SETTINGS"], repository=ExecutionRepository(engine)) for _ in range(4)]
    barrier = threading.Barrier(len(routers))
    outcomes: list[dict[str, Any]] = []

    def work(router):
        barrier.wait(timeout=10)
        outcomes.extend(recover_stuck_tasks(router, 60))

    threads = [threading.Thread(target=work, args=(r,)) for r in routers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(o["task_id"] for o in outcomes) == ids
    with engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM execution_logs")).scalar_one() == 6


class RecordingLiveConnector(BaseConnector):
    """A live connector that records submissions (recovery must never call it)."""

    firm_code = "FTMO"
    live_supported = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sent: list[OrderRequest] = []
        self.at_firm: set[str] = set()

    def _place_entry(self, order: OrderRequest, deadline: Any = None) -> ConnectorResult:
        self.sent.append(order)
        return ConnectorResult("FTMO", order.program_id, SUCCESS, False, order_id="X")

    _place_exit = _place_entry

    def _find_order(self, order: OrderRequest, deadline: Any) -> OrderLookup:
        """The firm has every order whose client id is in `at_firm`."""
        found = order.client_order_id in self.at_firm
        return OrderLookup(found, firm_order_id="F-1" if found else None)

    def _account_status(self) -> dict[str, Any]:
        return {}


def _live_router(app) -> tuple[ExecutionRouter, RecordingLiveConnector]:
    settings = app.config["ROUTER_SETTINGS"]
    connector = RecordingLiveConnector(settings.firms["FTMO"], dry_run=False)
    router = ExecutionRouter(settings=settings, repository=ExecutionRepository(app.extensions["db_engine"]),
                             connectors={"FTMO": connector})
    return router, connector


def _reserve(engine, task_id: int, client_order_id: str) -> int:
    position = ExecutionRepository(engine).open_position(
        trade_id=GUIDE_PAYLOAD["trade_id"], firm_code="FTMO", program_id=1, symbol="NQ", side="LONG", contracts=2,
        entry_price=16500, stop_price=16475, task_id=task_id, client_order_id=client_order_id, dry_run=False)
    return position.id


def _position_status(engine, position_id: int) -> str:
    with engine.begin() as conn:
        return conn.execute(text("SELECT status FROM trade_positions WHERE id = :i"), {"i": position_id}).scalar_one()


def _journal(engine, task_id: int, client_order_id: str, position_id: int) -> None:
    """What the dispatcher writes before sending: the order is on record, its outcome unknown."""
    order = OrderRequest(action="ENTRY", firm_code="FTMO", program_id=1, trade_id=GUIDE_PAYLOAD["trade_id"],
                         task_id=task_id, symbol="NQ", direction="LONG", contracts=2,
                         client_order_id=client_order_id)
    ConnectorOrderRepository(engine).record_submission(
        client_order_id=client_order_id, firm_code="FTMO", program_id=1, task_id=task_id,
        trade_id=GUIDE_PAYLOAD["trade_id"], action="ENTRY", contracts=2, position_id=position_id,
        request=order.to_dict())


def test_live_entry_reserved_but_never_journalled_was_never_sent_and_is_released(app):
    engine = app.extensions["db_engine"]
    router, connector = _live_router(app)
    task_id = stuck_task(engine, GUIDE_PAYLOAD)
    position_id = _reserve(engine, task_id, "ER-x")  # died between reservation and the journal row
    [summary] = recover_stuck_tasks(router, 60)
    assert summary == {"task_id": task_id, "outcome": "FAILED", "error": STALE_ENTRY}
    assert _position_status(engine, position_id) == "RELEASED" and connector.sent == []
    body = ExecutionRepository(engine).get_log_for_task(task_id)["response_body"]
    assert body["reconciled_orders"] == [{"client_order_id": "ER-x", "status": "NOT_SENT_RELEASED"}]
    assert recover_stuck_tasks(router, 60) == []


def test_live_entry_journalled_and_found_at_the_firm_is_reconciled_not_resent(app):
    engine = app.extensions["db_engine"]
    router, connector = _live_router(app)
    router.reconcile_min_age = 0
    task_id = stuck_task(engine, GUIDE_PAYLOAD)
    position_id = _reserve(engine, task_id, "ER-sent")
    _journal(engine, task_id, "ER-sent", position_id)  # died after sending, before the answer
    connector.at_firm.add("ER-sent")
    [summary] = recover_stuck_tasks(router, 60)
    assert summary == {"task_id": task_id, "outcome": "RECONCILED"}
    assert ExecutionRepository(engine).get_task(task_id)["status"] == "COMPLETED"
    assert _position_status(engine, position_id) == "OPEN" and connector.sent == []  # kept, not resent
    assert ConnectorOrderRepository(engine).get("ER-sent").status == "SUCCESS"


def test_live_entry_journalled_but_unknown_at_the_firm_is_left_for_the_operator(app):
    engine = app.extensions["db_engine"]
    router, connector = _live_router(app)
    router.reconcile_min_age = 0

    def cannot_tell(order, deadline):
        return OrderLookup(None, detail="firm unreachable")

    connector._find_order = cannot_tell
    task_id = stuck_task(engine, GUIDE_PAYLOAD)
    position_id = _reserve(engine, task_id, "ER-maybe")
    _journal(engine, task_id, "ER-maybe", position_id)
    [summary] = recover_stuck_tasks(router, 60)
    assert summary == {"task_id": task_id, "outcome": "FAILED", "error": UNKNOWN_OUTCOME}
    assert _position_status(engine, position_id) == "OPEN" and connector.sent == []


def test_live_entry_that_reserved_nothing_is_not_sent_late(app):
    router, connector = _live_router(app)
    task_id = stuck_task(app.extensions["db_engine"], GUIDE_PAYLOAD)
    assert recover_stuck_tasks(router, 60)[0]["error"] == STALE_ENTRY
    assert connector.sent == []
    assert ExecutionRepository(app.extensions["db_engine"]).get_task(task_id)["status"] == "FAILED"


def test_live_exit_is_failed_for_reconciliation(app):
    router, connector = _live_router(app)
    task_id = stuck_task(app.extensions["db_engine"], {"event_type": "EXIT_STOP_LOSS", "trade_id": "T9"})
    assert recover_stuck_tasks(router, 60)[0]["error"] == UNKNOWN_OUTCOME
    assert connector.sent == []
    assert ExecutionRepository(app.extensions["db_engine"]).get_task(task_id)["error"] == UNKNOWN_OUTCOME


def test_periodic_recovery_thread_finishes_stuck_tasks(make_app):
    app = make_app(RECOVERY_INTERVAL_SECONDS="1", STUCK_TASK_SECONDS="1")
    engine = app.extensions["db_engine"]
    task_id = stuck_task(engine, {"event_type": "BE_TRIGGERED", "trade_id": "T5"})
    repo = ExecutionRepository(engine)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and repo.get_task(task_id)["status"] != "COMPLETED":
        time.sleep(0.1)
    assert repo.get_task(task_id)["status"] == "COMPLETED"
    assert repo.get_log_for_task(task_id)["response_body"]["recovered"] is True


def test_a_dry_run_task_still_running_is_not_claimed_by_recovery(pg_engine):
    """A dry-run task's unit of work holds its row lock (ExecutionRepository.lock_task) instead of
    writing PROCESSING; recovery's FOR UPDATE SKIP LOCKED must pass it by until it ends."""
    truncate_app_tables(pg_engine)
    task_id = stuck_task(pg_engine, dict(GUIDE_PAYLOAD), status="PENDING")  # an hour old: "stuck"
    claimed: list[list[int]] = []
    with UnitOfWork(pg_engine) as uow:
        uow.begin()
        uow.tasks.lock_task(task_id)
        # another worker's recovery, on its own connection and thread
        worker = threading.Thread(target=lambda: claimed.append(
            [t.id for t in SafetyRepository(pg_engine).claim_stuck_tasks(60)]))
        worker.start()
        worker.join(timeout=10)
    assert claimed == [[]]
    assert [t.id for t in SafetyRepository(pg_engine).claim_stuck_tasks(60)] == [task_id]  # once released


def test_locking_a_task_that_does_not_exist_fails(db_engine):
    with pytest.raises(TaskNotFoundError):
        ExecutionRepository(db_engine).lock_task(999)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_request_whose_task_recovery_finished_first_answers_with_that_result(app, client):
    """A dry-run signal that reserves nothing holds no transaction while it is processed, so a
    recovery that decided it was stuck (it ran longer than STUCK_TASK_SECONDS) can finish it
    first. The unique log row keeps one result; the request answers with it instead of a 500."""
    router, engine = app.extensions["execution_router"], app.extensions["db_engine"]
    real = router.process_info
    recovered = {"recovered": True, "details": "re-run by recovery", "routed": False}

    def recovery_finishes_it_meanwhile(task_id, signal, db):
        outcome = real(task_id, signal, db)
        other_worker = threading.Thread(
            target=lambda: ExecutionRepository(engine).finish_task(task_id, "COMPLETED", {**recovered, "task_id": task_id}))
        other_worker.start()
        other_worker.join(timeout=10)
        return outcome

    router.process_info = recovery_finishes_it_meanwhile
    response = client.post("/api/automated-signals/webhook", json=dict(GUIDE_PAYLOAD, event_type="MFE_UPDATE"))
    body = response.get_json()
    assert response.status_code == 200 and body["recovered"] is True and body["details"] == "re-run by recovery"
    repo = ExecutionRepository(engine)
    assert repo.get_task(body["task_id"])["status"] == "COMPLETED"
    assert repo.get_log_for_task(body["task_id"])["response_body"] == body
