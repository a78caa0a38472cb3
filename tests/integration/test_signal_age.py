"""MAX_SIGNAL_AGE_SECONDS: an entry processed too long after its webhook arrived is refused
(SKIPPED, SIGNAL_TOO_OLD), reserves nothing and sends nothing - live against the firm simulator,
in dry-run on both backends, and when recovery finds it PENDING minutes later. Exits are sent."""
from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from sqlalchemy import text

from account_service import utc_now
from config import ConfigError, parse_settings
from database import ExecutionRepository, create_db_engine
from database.engine import DatabaseTimeouts
from safety.recovery import STALE_ENTRY, recover_stuck_tasks
from safety.signal_age import SIGNAL_TOO_OLD
from tests.conftest import GUIDE_PAYLOAD, STEP2_ENV
from tests.db_fixtures import postgres_test_url
from tests.e2e.live_support import ENTRY, EXIT, live_env, post, sim  # noqa: F401 (fixture)

live = pytest.mark.parametrize("backend", ["postgresql"])


class ShiftingClock:
    """The router's clock: the real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return utc_now() + self.offset


def rows(db, sql: str) -> list:
    return list(db.execute(text(sql)).all())


def assert_refused_for_age(body: dict, firms: set[str]) -> None:
    results = body["connector_results"]
    assert {r["firm_code"] for r in results} == firms
    assert all((r["status"], r["reason"], r["rule"]) == ("SKIPPED", SIGNAL_TOO_OLD, "MAX_SIGNAL_AGE_SECONDS")
               for r in results), results
    assert all("over the limit of 5 s" in r["message"] and " s ago" in r["message"] for r in results)
    assert body["routed"] is False


# -- settings -----------------------------------------------------------------------------------


def test_the_limits_have_safe_defaults():
    settings = parse_settings(STEP2_ENV)
    assert settings.max_signal_age_seconds == 5
    assert DatabaseTimeouts.of(settings) == DatabaseTimeouts(statement_ms=1500, lock_ms=1000,
                                                             idle_in_transaction_ms=5000, pool_ms=1000)
    assert DatabaseTimeouts().call_seconds == 2.0  # the stalled-path bound: inside TradingView's 3 s


@pytest.mark.parametrize("name, value", [
    ("MAX_SIGNAL_AGE_SECONDS", "0"), ("MAX_SIGNAL_AGE_SECONDS", "3601"), ("MAX_SIGNAL_AGE_SECONDS", "soon"),
    ("DATABASE_STATEMENT_TIMEOUT_MS", "50"), ("DATABASE_STATEMENT_TIMEOUT_MS", "60001"),
    ("DATABASE_LOCK_TIMEOUT_MS", "2000"),  # above the statement timeout it belongs to
    ("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", "500"), ("DATABASE_POOL_TIMEOUT_MS", "0"),
])
def test_bad_limits_stop_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as raised:
        parse_settings({**STEP2_ENV, name: value})
    assert any(problem.startswith(name) for problem in raised.value.problems), raised.value.problems


# -- live, against the firm simulator ----------------------------------------------------------------


@pytest.fixture
def live_app(make_app, sim):  # noqa: F811
    app = make_app(**live_env(sim.url))
    app.extensions["execution_router"].reconcile_min_age = 0.0
    return app


@live
def test_a_live_entry_received_too_long_ago_is_refused_reserves_nothing_and_sends_nothing(live_app, sim, db):  # noqa: F811
    router = live_app.extensions["execution_router"]
    old = utc_now() - dt.timedelta(seconds=12)
    body = router.route(dict(ENTRY), idempotency_key="old-entry", received_at=old)
    assert_refused_for_age(body, {"FTMO", "APEX", "TOPSTEP"})
    assert {c["rule"] for c in body["safety_checks"]} == {"MAX_SIGNAL_AGE_SECONDS"}
    assert body["details"].startswith("Entry refused: its signal arrived more than MAX_SIGNAL_AGE_SECONDS ago")
    assert rows(db, "SELECT id FROM trade_positions") == []
    assert rows(db, "SELECT id FROM connector_orders") == []
    assert all(sim.orders_for(firm) == [] for firm in ("FTMO", "APEX", "TOPSTEP"))
    task = ExecutionRepository(live_app.extensions["db_engine"]).get_task(body["task_id"])
    assert task["status"] == "COMPLETED"  # recorded with its reason, never sent late


@live
def test_an_entry_that_got_too_old_while_reserving_is_not_sent_and_gives_its_reservations_back(  # noqa: F811
        live_app, sim, db, monkeypatch):
    """The age is checked again right before each order leaves: time lost after the first
    check (a lock wait at the reservation, say) counts too."""
    router = live_app.extensions["execution_router"]
    clock = router.clock = ShiftingClock()
    reserve = ExecutionRepository.reserve_positions

    def slow_reservation(self, claims):
        positions = reserve(self, claims)
        clock.offset = dt.timedelta(seconds=8)  # as if the reservation had waited 8 s
        return positions

    monkeypatch.setattr(ExecutionRepository, "reserve_positions", slow_reservation)
    body = post(live_app.test_client(), ENTRY).get_json()
    assert_refused_for_age(body, {"FTMO", "APEX", "TOPSTEP"})
    assert all(r["mode"] == "LIVE" for r in body["connector_results"])
    assert [r.status for r in rows(db, "SELECT status FROM trade_positions")] == ["RELEASED"] * 3
    journal = rows(db, "SELECT status, reason FROM connector_orders")
    assert [(j.status, j.reason) for j in journal] == [("FAILED", SIGNAL_TOO_OLD)] * 3  # journalled, never sent
    assert all(sim.orders_for(firm) == [] for firm in ("FTMO", "APEX", "TOPSTEP"))


@live
def test_an_exit_is_never_refused_for_its_age(live_app, sim, db):  # noqa: F811
    router = live_app.extensions["execution_router"]
    client = live_app.test_client()
    assert all(r["status"] == "SUCCESS" for r in post(client, ENTRY).get_json()["connector_results"])
    body = router.route(dict(EXIT), idempotency_key="old-exit", received_at=utc_now() - dt.timedelta(minutes=10))
    assert {r["firm_code"]: r["status"] for r in body["connector_results"]} == {
        "FTMO": "SUCCESS", "APEX": "SUCCESS", "TOPSTEP": "SUCCESS"}
    assert all(len([o for o in sim.orders_for(firm) if o["kind"] == "CLOSE"]) == 1 for firm in ("FTMO", "APEX", "TOPSTEP"))


@live
def test_a_fresh_live_entry_is_sent(live_app, sim):  # noqa: F811
    router = live_app.extensions["execution_router"]
    body = router.route(dict(ENTRY), idempotency_key="fresh", received_at=utc_now() - dt.timedelta(seconds=4))
    assert all(r["status"] == "SUCCESS" for r in body["connector_results"]), body["connector_results"]


# -- dry-run, both backends ----------------------------------------------------------------------


def test_a_dry_run_entry_received_too_long_ago_records_no_simulated_position(app, db):
    router = app.extensions["execution_router"]
    body = router.route(dict(GUIDE_PAYLOAD), idempotency_key="old", received_at=utc_now() - dt.timedelta(seconds=6))
    assert_refused_for_age(body, {"FTMO", "APEX"})
    assert rows(db, "SELECT id FROM trade_positions") == []
    assert [r.status for r in rows(db, "SELECT status FROM execution_tasks")] == ["COMPLETED"]


def test_the_webhook_measures_from_arrival(app, db):
    """The clock moves on between the request's arrival and its processing (the router's clock,
    so tests and the trading-day logic share it)."""
    router = app.extensions["execution_router"]
    clock = router.clock = ShiftingClock()
    read = router.guard.trading_state

    def held_up(safety, known=None):
        clock.offset = dt.timedelta(seconds=30)
        return read(safety, known)

    router.guard.trading_state = held_up
    body = app.test_client().post("/api/automated-signals/webhook", json=GUIDE_PAYLOAD).get_json()
    assert_refused_for_age(body, {"FTMO", "APEX"})
    assert rows(db, "SELECT id FROM trade_positions") == []


# -- recovery ----------------------------------------------------------------------------------


def _pending_entry(engine, minutes_ago: int) -> int:
    """A PENDING entry whose worker died: received (created_at) and last touched long ago."""
    repo = ExecutionRepository(engine)
    task_id = repo.create_task(GUIDE_PAYLOAD["trade_id"], "SIGNAL_CREATED", dict(GUIDE_PAYLOAD),
                               idempotency_key=f"{GUIDE_PAYLOAD['trade_id']}:SIGNAL_CREATED")
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    with engine.begin() as connection:
        connection.execute(text("UPDATE execution_tasks SET created_at = :old, updated_at = :old WHERE id = :id"),
                           {"old": old, "id": task_id})
    return task_id


def test_recovery_refuses_a_dry_run_entry_found_pending_minutes_later(app, db):
    engine = app.extensions["db_engine"]
    task_id = _pending_entry(engine, minutes_ago=3)
    assert recover_stuck_tasks(app.extensions["execution_router"], 60)[0]["outcome"] == "RERUN"
    repo = ExecutionRepository(engine)
    assert repo.get_task(task_id)["status"] == "COMPLETED"
    body = repo.get_log_for_task(task_id)["response_body"]
    assert body["recovered"] is True
    assert_refused_for_age(body, {"FTMO", "APEX"})
    assert rows(db, "SELECT id FROM trade_positions") == []


@live
def test_recovery_never_sends_a_live_entry_found_pending_minutes_later(live_app, sim, db):  # noqa: F811
    engine = live_app.extensions["db_engine"]
    task_id = _pending_entry(engine, minutes_ago=3)
    assert recover_stuck_tasks(live_app.extensions["execution_router"], 60)[0]["error"] == STALE_ENTRY
    assert ExecutionRepository(engine).get_task(task_id)["status"] == "FAILED"
    assert rows(db, "SELECT id FROM trade_positions") == [] and rows(db, "SELECT id FROM connector_orders") == []
    assert all(sim.orders_for(firm) == [] for firm in ("FTMO", "APEX", "TOPSTEP"))


@live
@pytest.mark.parametrize("path", ["create_task", "create_entry_task"])
def test_created_at_is_taken_before_the_insert_waits_for_a_lock(app, path):
    """Recovery measures a task's age from `created_at`: PostgreSQL's now() is the start of the
    insert's transaction (autocommit: the statement), before any lock wait, so a task that
    waited for a lock is as old as its signal, not younger."""
    engine = create_db_engine(postgres_test_url(), timeouts=DatabaseTimeouts(statement_ms=8000, lock_ms=8000))
    holder = psycopg.connect(postgres_test_url())
    try:
        repo = ExecutionRepository(engine)
        holder.execute("LOCK TABLE execution_tasks IN ACCESS EXCLUSIVE MODE")
        threading.Timer(1.5, holder.rollback).start()
        sent_at = dt.datetime.now(dt.timezone.utc)
        started = time.monotonic()
        if path == "create_task":
            task_id = repo.create_task("T-LOCK", "SIGNAL_CREATED", {"trade_id": "T-LOCK"}, idempotency_key="lock-wait")
        else:
            task_id, _ = repo.create_entry_task("T-LOCK", "SIGNAL_CREATED", {"trade_id": "T-LOCK"}, ["FTMO"],
                                                idempotency_key="lock-wait")
        assert time.monotonic() - started > 1.4  # it did wait for the lock
        created_at = repo.get_task(task_id)["created_at"]
        assert (created_at - sent_at).total_seconds() < 0.3, (sent_at, created_at)
    finally:
        holder.close()
        engine.dispose()
