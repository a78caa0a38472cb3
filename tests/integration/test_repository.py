"""ExecutionRepository against both backends (SQLite file and PostgreSQL)."""
from __future__ import annotations

from contextlib import nullcontext

import datetime as dt
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from database import (
    DuplicateIdempotencyKeyError,
    ExecutionRepository,
    PositionNotFoundError,
    PositionRecord,
    TaskAlreadyFinishedError,
    TaskNotFoundError,
    create_db_engine,
    normalize_database_url,
)
from database.json_documents import json_document_problem
from database.tables import execution_logs, execution_tasks, trade_positions
from database.unit_of_work import AutoCommit, UnitOfWork

from tests.conftest import GUIDE_PAYLOAD

T = TypeVar("T")

SIGNAL = GUIDE_PAYLOAD

RESULT = {
    "routed": False,
    "dry_run": True,
    "event_type": "SIGNAL_CREATED",
    "trade_id": "20251122_143000_BULLISH",
    "details": "ExecutionRouter dry-run: no external order sent.",
    "risk_checks": [{"firm_code": "FTMO", "status": "APPROVED"}],
    "program_sizing": [
        {"firm_code": "FTMO", "program_id": 1, "status": "APPROVED", "contracts": 2}
    ],
    "account_breaches": [{"firm_code": "FTMO", "program_id": 1, "status": "APPROVED"}],
    "connector_results": [
        {"firm_code": "FTMO", "status": "SKIPPED", "reason": "GLOBAL_DRY_RUN_ENABLED"}
    ],
}


@pytest.fixture
def repo(db_engine: Engine) -> ExecutionRepository:
    return ExecutionRepository(db_engine)


def count_rows(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(table).where(*where)
        return connection.execute(query).scalar_one()


def open_nq(repo: ExecutionRepository, **overrides: Any) -> PositionRecord | None:
    task_id = overrides.pop("task_id", None)
    if task_id is None:
        task_id = repo.create_task(SIGNAL["trade_id"], "SIGNAL_CREATED", SIGNAL)
    values: dict[str, Any] = {
        "trade_id": SIGNAL["trade_id"],
        "firm_code": "FTMO",
        "program_id": 1,
        "symbol": "NQ",
        "side": "LONG",
        "contracts": 2,
        "entry_price": Decimal("16500.25"),
        "stop_price": 16475.0,
        "task_id": task_id,
        "client_order_id": "er-1-FTMO-1",
        "dry_run": True,
    }
    values.update(overrides)
    return repo.open_position(**values)


def run_concurrently(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``count`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return results


# -- engine set-up (what the repository relies on) ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "sqlite:///instance/router.db"),
        ("", "sqlite:///instance/router.db"),
        ("  ", "sqlite:///instance/router.db"),
        ("postgres://u:p@db.example:5432/rw", "postgresql+psycopg://u:p@db.example:5432/rw"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+psycopg://u@h/db?sslmode=require"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),  # psycopg2 is not shipped
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/data/router.db", "sqlite:////var/data/router.db"),
    ],
)
def test_normalize_database_url(url: str | None, expected: str) -> None:
    assert normalize_database_url(url, "instance/router.db") == expected


def test_postgres_engine_pools_and_fails_fast() -> None:
    engine = create_db_engine("postgres://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool.size() == 12  # type: ignore[attr-defined]  # a live worker's request + connector threads
        assert engine.pool._max_overflow == 10  # type: ignore[attr-defined]
        # a connection that died in the pool is replaced, not used: tests/integration/test_engine_ping.py
    finally:
        engine.dispose()


def test_sqlite_engine_creates_its_folder_and_enforces_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = create_db_engine(None, sqlite_path=str(path))
    try:
        assert path.parent.is_dir()
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            }
        assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "busy_timeout": 5000}
    finally:
        engine.dispose()


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        create_db_engine("mysql://u@h/db")


def test_position_must_reference_an_existing_task(repo: ExecutionRepository) -> None:
    """Foreign keys hold on SQLite too (PRAGMA foreign_keys=ON)."""
    with pytest.raises(IntegrityError):
        open_nq(repo, task_id=424242)


# -- tasks and logs --------------------------------------------------------------------------------


def test_ping(repo: ExecutionRepository) -> None:
    assert repo.ping() is True


def test_ping_is_false_when_database_unreachable() -> None:
    engine = create_db_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        assert ExecutionRepository(engine).ping() is False
    finally:
        engine.dispose()


def test_task_lifecycle_pending_processing_completed(
    db_engine: Engine, repo: ExecutionRepository
) -> None:
    task_id = repo.create_task(SIGNAL["trade_id"], "SIGNAL_CREATED", SIGNAL)

    task = repo.get_task(task_id)
    assert task is not None
    assert task["status"] == "PENDING"
    assert task["trade_id"] == SIGNAL["trade_id"]
    assert task["event_type"] == "SIGNAL_CREATED"
    assert task["payload"] == SIGNAL
    assert task["error"] is None
    assert task["created_at"].tzinfo is not None
    assert abs(task["created_at"] - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert repo.get_log_for_task(task_id) is None

    repo.set_task_status(task_id, "PROCESSING")
    assert repo.get_task(task_id)["status"] == "PROCESSING"  # type: ignore[index]

    log_id = repo.finish_task(task_id, "COMPLETED", RESULT)

    task = repo.get_task(task_id)
    assert task is not None and task["status"] == "COMPLETED" and task["error"] is None
    assert task["updated_at"] >= task["created_at"]
    log = repo.get_log_for_task(task_id)
    assert log is not None
    assert log["id"] == log_id
    assert log["task_id"] == task_id
    assert log["trade_id"] == SIGNAL["trade_id"]
    assert log["event_type"] == "SIGNAL_CREATED"
    assert log["response_body"] == RESULT
    assert count_rows(db_engine, execution_logs, execution_logs.c.task_id == task_id) == 1


def test_failed_task_keeps_its_error(repo: ExecutionRepository) -> None:
    task_id = repo.create_task("T1", "ENTRY", {"symbol": "NQ"})
    repo.finish_task(task_id, "FAILED", {"routed": False}, error="connector timeout")
    task = repo.get_task(task_id)
    assert task is not None
    assert (task["status"], task["error"]) == ("FAILED", "connector timeout")


@pytest.mark.parametrize("held", [False, True], ids=["own-transaction", "held-connection"])
def test_finishing_a_task_twice_fails_and_changes_nothing(
    db_engine: Engine, repo: ExecutionRepository, held: bool
) -> None:
    """`held`: on a held PostgreSQL connection the finish is one autocommit statement, so nothing
    can be rolled back after it: the statement itself must leave a finished task untouched."""
    task_id = repo.create_task(SIGNAL["trade_id"], "SIGNAL_CREATED", SIGNAL)
    repo.finish_task(task_id, "COMPLETED", RESULT)
    before = repo.get_task(task_id)

    with pytest.raises(TaskAlreadyFinishedError), (UnitOfWork(db_engine) if held else nullcontext(AutoCommit(db_engine))) as db:
        db.tasks.finish_task(task_id, "FAILED", {"routed": False}, error="second attempt")

    assert repo.get_task(task_id) == before
    assert repo.get_log_for_task(task_id)["response_body"] == RESULT  # type: ignore[index]
    assert count_rows(db_engine, execution_logs) == 1


def test_concurrent_finishes_record_exactly_one_result(
    db_engine: Engine, repo: ExecutionRepository
) -> None:
    task_id = repo.create_task("T1", "ENTRY", {"n": 0})

    def finish(index: int) -> bool:
        try:  # half of them as a dry-run signal finishes: one autocommit statement on a held connection
            with UnitOfWork(db_engine) if index % 2 else nullcontext(AutoCommit(db_engine)) as db:
                db.tasks.finish_task(task_id, "FAILED" if index % 2 else "COMPLETED", {"worker": index})
        except TaskAlreadyFinishedError:
            return False
        return True

    assert sorted(run_concurrently(6, finish)) == [False] * 5 + [True]
    assert count_rows(db_engine, execution_logs) == 1
    worker = repo.get_log_for_task(task_id)["response_body"]["worker"]  # type: ignore[index]
    assert repo.get_task(task_id)["status"] == ("FAILED" if worker % 2 else "COMPLETED")  # the winner's  # type: ignore[index]


def test_unknown_task_is_reported(repo: ExecutionRepository) -> None:
    assert repo.get_task(999) is None
    assert repo.get_log_for_task(999) is None
    with pytest.raises(TaskNotFoundError):
        repo.set_task_status(999, "PROCESSING")
    with pytest.raises(TaskNotFoundError):
        repo.finish_task(999, "COMPLETED", RESULT)


def test_idempotency_key_is_unique(db_engine: Engine, repo: ExecutionRepository) -> None:
    first = repo.create_task("T1", "ENTRY", {"a": 1}, idempotency_key="tv:T1:ENTRY")
    with pytest.raises(DuplicateIdempotencyKeyError) as caught:
        repo.create_task("T1", "ENTRY", {"a": 1}, idempotency_key="tv:T1:ENTRY")
    assert caught.value.existing_task_id == first
    assert repo.find_task_by_idempotency_key("tv:T1:ENTRY")["id"] == first  # type: ignore[index]
    assert repo.find_task_by_idempotency_key("other") is None
    # Tasks without a key never collide.
    repo.create_task("T1", "MFE_UPDATE", {"a": 2})
    repo.create_task("T1", "MFE_UPDATE", {"a": 3})
    assert count_rows(db_engine, execution_tasks) == 3


def test_payload_must_be_a_json_object(repo: ExecutionRepository) -> None:
    with pytest.raises(TypeError):
        repo.create_task("T1", "ENTRY", ["not", "an", "object"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "payload",
    [
        {"note": "nul\x00byte"},
        {"nested": [{"note": "\ud800"}]},
        {"\ud83d": 1},
        {"risk_R": float("nan")},
        {"size": float("inf")},
    ],
)
def test_documents_postgres_cannot_store_are_refused(
    db_engine: Engine, repo: ExecutionRepository, payload: dict[str, Any]
) -> None:
    """Same failure on both backends, before anything is written."""
    with pytest.raises(ValueError):
        repo.create_task("T1", "ENTRY", payload)
    task_id = repo.create_task("T1", "ENTRY", {})
    with pytest.raises(ValueError):
        repo.finish_task(task_id, "COMPLETED", payload)
    assert repo.get_log_for_task(task_id) is None
    assert count_rows(db_engine, execution_tasks) == 1


def test_non_json_values_are_refused(repo: ExecutionRepository) -> None:
    with pytest.raises(TypeError):
        repo.create_task("T1", "ENTRY", {"price": Decimal("1.5")})
    with pytest.raises(TypeError):
        repo.create_task("T1", "ENTRY", {1: "int key"})  # type: ignore[dict-item]


def test_storability_check_answers_at_any_depth_without_recursing() -> None:
    """No RecursionError however deep the document: the problem is still found and named."""
    depth = 20 * sys.getrecursionlimit()
    bad: Any = "fees\u0000"
    clean: Any = 1.5
    for _ in range(depth):
        bad, clean = [bad], {"k": clean}
    problem = json_document_problem({"x": bad})
    assert problem is not None and problem.startswith("body['x'][0][0]") and "NUL" in problem
    assert problem.count("[0]") == depth
    assert json_document_problem({"x": clean}) is None


# Any text a webhook can carry and PostgreSQL can store (no NUL, no unpaired surrogates: those
# are refused with ValueError, see test_documents_postgres_cannot_store_are_refused).
json_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    # JSONB keeps numbers as NUMERIC and prints them without exponent, so floats beyond ~1e15
    # come back as ints; prices and ratios live far below that.
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4)
    ),
    max_leaves=16,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    payload=st.dictionaries(json_text, json_values, max_size=5),
    result=st.dictionaries(json_text, json_values, max_size=5),
)
def test_json_documents_round_trip(
    repo: ExecutionRepository, payload: dict[str, Any], result: dict[str, Any]
) -> None:
    task_id = repo.create_task("T-json", "ENTRY", payload)
    repo.finish_task(task_id, "COMPLETED", result)
    assert repo.get_task(task_id)["payload"] == payload  # type: ignore[index]
    assert repo.get_log_for_task(task_id)["response_body"] == result  # type: ignore[index]


def test_nested_documents_round_trip(repo: ExecutionRepository) -> None:
    payload = {
        "targets": {"tp1": 16525.5, "tp2": 16550.25, "levels": [1.0, 2.5, {"r": -0.75}]},
        "setup": {"name": "FVG", "confirmed": True, "notes": None},
        "risk_R": 1.25,
    }
    task_id = repo.create_task("T-nested", "ENTRY", payload)
    assert repo.get_task(task_id)["payload"] == payload  # type: ignore[index]


# -- positions -------------------------------------------------------------------------------------


def test_open_position_records_what_was_opened(repo: ExecutionRepository) -> None:
    position = open_nq(repo)
    assert position is not None
    assert position == PositionRecord(
        id=position.id,
        trade_id=SIGNAL["trade_id"],
        firm_code="FTMO",
        program_id=1,
        symbol="NQ",
        side="LONG",
        contracts_opened=2,
        contracts_open=2,
        entry_price=Decimal("16500.25"),
        stop_price=Decimal("16475"),
        status="OPEN",
        dry_run=True,
        client_order_id="er-1-FTMO-1",
    )
    assert isinstance(position.entry_price, Decimal)
    assert repo.open_positions_for_trade(SIGNAL["trade_id"]) == [position]
    assert repo.has_position_history(SIGNAL["trade_id"]) is True
    assert repo.has_position_history("never-seen") is False


def test_open_position_twice_returns_none_and_writes_nothing(
    db_engine: Engine, repo: ExecutionRepository
) -> None:
    first = open_nq(repo)
    assert first is not None
    assert open_nq(repo, contracts=5, side="SHORT", client_order_id="other") is None
    assert repo.open_positions_for_trade(SIGNAL["trade_id"]) == [first]
    assert count_rows(db_engine, trade_positions) == 1
    # Another program or firm is a different slot.
    assert open_nq(repo, program_id=2) is not None
    assert open_nq(repo, firm_code="APEX") is not None


def test_concurrent_opens_of_one_slot_produce_one_position(
    db_engine: Engine, repo: ExecutionRepository
) -> None:
    task_id = repo.create_task(SIGNAL["trade_id"], "SIGNAL_CREATED", SIGNAL)
    results = run_concurrently(8, lambda i: open_nq(repo, task_id=task_id, client_order_id=f"c{i}"))
    assert len([r for r in results if r is not None]) == 1
    assert count_rows(db_engine, trade_positions) == 1


def test_open_position_rejects_bad_input(repo: ExecutionRepository) -> None:
    with pytest.raises(ValueError):
        open_nq(repo, contracts=0)
    with pytest.raises(ValueError):
        open_nq(repo, side="BUY")
    with pytest.raises(ValueError):
        open_nq(repo, entry_price=float("nan"))


def test_positions_are_listed_by_firm_then_program(repo: ExecutionRepository) -> None:
    task_id = repo.create_task(SIGNAL["trade_id"], "ENTRY", SIGNAL)
    for firm, program in [("TOPSTEP", 1), ("FTMO", 2), ("APEX", 3), ("FTMO", 1)]:
        open_nq(repo, firm_code=firm, program_id=program, task_id=task_id)
    positions = repo.open_positions_for_trade(SIGNAL["trade_id"])
    listed = [(p.firm_code, p.program_id) for p in positions]
    assert listed == [("APEX", 3), ("FTMO", 1), ("FTMO", 2), ("TOPSTEP", 1)]


def test_reduce_partially_then_fully_closes_and_never_goes_negative(
    repo: ExecutionRepository,
) -> None:
    position = open_nq(repo, contracts=3)
    assert position is not None

    assert repo.reduce_position(position.id, 1) == 1
    (after_partial,) = repo.open_positions_for_trade(SIGNAL["trade_id"])
    assert (after_partial.contracts_open, after_partial.status) == (2, "OPEN")

    assert repo.reduce_position(position.id, 5) == 2  # only what is open
    assert repo.open_positions_for_trade(SIGNAL["trade_id"]) == []
    assert repo.reduce_position(position.id, 1) == 0
    assert repo.open_contracts_for_firm("FTMO") == 0
    assert repo.has_position_history(SIGNAL["trade_id"]) is True

    with pytest.raises(PositionNotFoundError):
        repo.reduce_position(9999, 1)
    with pytest.raises(ValueError):
        repo.reduce_position(position.id, 0)


def test_concurrent_reductions_never_close_more_than_open(
    db_engine: Engine, repo: ExecutionRepository
) -> None:
    position = open_nq(repo, contracts=5)
    assert position is not None
    reduced = run_concurrently(8, lambda _i: repo.reduce_position(position.id, 1))
    assert sum(reduced) == 5
    with db_engine.connect() as connection:
        row = connection.execute(
            select(trade_positions.c.contracts_open, trade_positions.c.status).where(
                trade_positions.c.id == position.id
            )
        ).one()
    assert tuple(row) == (0, "CLOSED")


def test_release_marks_nothing_open_and_blocks_reopening(repo: ExecutionRepository) -> None:
    position = open_nq(repo, contracts=4)
    assert position is not None
    repo.release_position(position.id)

    assert repo.open_positions_for_trade(SIGNAL["trade_id"]) == []
    assert repo.open_contracts_for_firm("FTMO") == 0
    assert repo.has_position_history(SIGNAL["trade_id"]) is True
    assert repo.reduce_position(position.id, 1) == 0
    assert open_nq(repo) is None  # a repeated signal does not re-open the slot
    repo.release_position(position.id)  # idempotent
    with pytest.raises(PositionNotFoundError):
        repo.release_position(9999)


def test_open_contracts_for_firm_counts_only_open_positions(repo: ExecutionRepository) -> None:
    task_id = repo.create_task("T", "ENTRY", {})
    a = open_nq(repo, trade_id="A", contracts=2, task_id=task_id)
    b = open_nq(repo, trade_id="B", contracts=3, task_id=task_id)
    c = open_nq(repo, trade_id="C", contracts=4, task_id=task_id)
    d = open_nq(repo, trade_id="D", contracts=5, task_id=task_id)
    open_nq(repo, trade_id="E", contracts=7, firm_code="APEX", task_id=task_id)
    assert a and b and c and d
    repo.reduce_position(b.id, 1)  # 2 left, still OPEN
    repo.reduce_position(c.id, 4)  # CLOSED
    repo.release_position(d.id)  # RELEASED

    assert repo.open_contracts_for_firm("FTMO") == 2 + 2
    assert repo.open_contracts_for_firm("APEX") == 7
    assert repo.open_contracts_for_firm("TOPSTEP") == 0
