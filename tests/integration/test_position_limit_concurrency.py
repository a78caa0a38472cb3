"""max_position_size holds under parallel entries for one account (PostgreSQL, separate engines).

Each thread has its own engine (its own connection pool), like separate gunicorn workers or
instances; only the database can serialise them.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from config import parse_settings
from database import ExecutionRepository, PositionLimitError, create_db_engine
from database.position_repository import lock_firm_positions
from database.safety_repository import SafetyRepository
from execution_router import ExecutionRouter
from tests.conftest import GUIDE_PAYLOAD, PG_URL, STEP2_ENV
from tests.db_fixtures import postgres_test_url

WORKERS = 8


def _reserve(barrier: threading.Barrier, index: int, limit: int) -> str:
    engine = create_db_engine(postgres_test_url())
    try:
        repo = ExecutionRepository(engine)
        barrier.wait(timeout=30)
        try:
            position = repo.open_position(
                trade_id=f"T{index}", firm_code="FTMO", program_id=1, symbol="NQ", side="LONG", contracts=2,
                entry_price="16500", stop_price="16475", task_id=None, client_order_id=None, dry_run=True,
                firm_position_limit=limit,
            )
        except PositionLimitError:
            return "LIMIT"
        return "RESERVED" if position is not None else "DUPLICATE"
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", range(3))
def test_parallel_reservations_never_exceed_the_firm_limit(clean_pg, round_):
    barrier = threading.Barrier(WORKERS)
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda i: _reserve(barrier, i, 5), range(WORKERS)))
    assert outcomes.count("RESERVED") == 2 and outcomes.count("LIMIT") == WORKERS - 2
    assert ExecutionRepository(clean_pg).open_contracts_for_firm("FTMO") == 4


def test_reservation_waits_for_the_firm_lock(clean_pg):
    """Deterministic: while another transaction holds FTMO's lock, a reservation cannot proceed."""
    done = threading.Event()

    def reserve() -> None:
        _reserve(threading.Barrier(1), 99, 10)
        done.set()

    with clean_pg.connect() as holder:
        with holder.begin():
            lock_firm_positions(holder, "FTMO")
            worker = threading.Thread(target=reserve, daemon=True)
            worker.start()
            assert not done.wait(timeout=0.5), "reservation ran while the firm lock was held"
        worker.join(timeout=30)
    assert done.is_set()
    # Another firm's lock is independent.
    with clean_pg.connect() as holder, holder.begin():
        lock_firm_positions(holder, "APEX")
        assert _reserve(threading.Barrier(1), 100, 10) == "RESERVED"


def _parallel_entries(env: dict[str, str], hour: str, prepare=None) -> list[dict]:
    """One entry per router, WORKERS routers in parallel, each with its own engine (as separate
    gunicorn workers or instances); `prepare(router)` runs before the start line."""
    settings = parse_settings(dict(env, DATABASE_URL=PG_URL))
    barrier = threading.Barrier(WORKERS)

    def enter(index: int) -> dict:
        engine = create_db_engine(PG_URL)
        router = ExecutionRouter(settings=settings, repository=ExecutionRepository(engine))
        if prepare is not None:
            prepare(router)
        try:
            barrier.wait(timeout=30)
            return router.route(dict(GUIDE_PAYLOAD, trade_id=f"20260310_{hour}00000{index:02d}_BULLISH"))
        finally:
            router.close()
            engine.dispose()

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(enter, range(WORKERS)))


def test_parallel_webhook_entries_for_one_account_respect_max_position_size(clean_pg):
    """Routers in parallel (own engines), each entry sized 2 contracts, FTMO_MAX_POSITION_SIZE=3."""
    results = _parallel_entries(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", FTMO_MAX_POSITION_SIZE="3"), "14")
    with clean_pg.begin() as conn:
        total = conn.execute(text(
            "SELECT COALESCE(SUM(contracts_open), 0) FROM trade_positions WHERE firm_code = 'FTMO' AND status = 'OPEN'")).scalar_one()
    assert 2 <= total <= 3
    reserved = [r for res in results for r in res["connector_results"] if r["reason"] == "GLOBAL_DRY_RUN_ENABLED"]
    assert sum(r["details"]["contracts"] for r in reserved) == total
    refused = [r for res in results for r in res["connector_results"] if r["reason"] == "POSITION_LIMIT_REACHED"]
    rejected = [res for res in results if any(c["rule"] == "MAX_POSITION_SIZE" for c in res["risk_checks"])
                or any(s["status"] != "APPROVED" for s in res["program_sizing"])]
    assert len(reserved) + len(refused) + len(rejected) == WORKERS


def test_parallel_entries_never_exceed_the_firms_orders_per_minute(clean_pg, monkeypatch):
    """FTMO_MAX_ORDERS_PER_MINUTE=3 and 8 routers at once: the safety guard's count (read before
    any of them reserved) lets all 8 through, so the reservation re-counts under the firm's lock."""
    monkeypatch.setattr(SafetyRepository, "entry_orders_since", lambda *_: 0)  # the guard's first pass sees an empty minute

    results = _parallel_entries(dict(STEP2_ENV, ROUTE_TO_FIRMS="FTMO", FTMO_MAX_ORDERS_PER_MINUTE="3"), "15")
    outcomes = [r for res in results for r in res["connector_results"]]
    assert sorted(r["reason"] for r in outcomes) == ["GLOBAL_DRY_RUN_ENABLED"] * 3 + ["MAX_ORDERS_PER_MINUTE"] * 5
    late = [res for res in results if res["connector_results"][0]["reason"] == "MAX_ORDERS_PER_MINUTE"]
    assert all("simultaneous entry took the last slot" in res["connector_results"][0]["message"]
               and [c["rule"] for c in res["safety_checks"]] == ["MAX_ORDERS_PER_MINUTE"] for res in late)
    with clean_pg.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM trade_positions WHERE firm_code = 'FTMO'")).scalar_one() == 3


def test_the_reservation_recount_keeps_live_and_paper_apart(clean_pg):
    """Under the firm lock a live reservation counts live contracts only: paper never holds a
    live account's room. A paper one counts every open contract (the paper book's view)."""
    repo = ExecutionRepository(clean_pg)

    def reserve(trade_id: str, dry_run: bool):
        return repo.open_position(
            trade_id=trade_id, firm_code="FTMO", program_id=1, symbol="NQ", side="LONG", contracts=2,
            entry_price="16500", stop_price="16475", task_id=None, client_order_id=None, dry_run=dry_run,
            firm_position_limit=3)

    assert reserve("PAPER1", True) is not None
    assert reserve("LIVE1", False) is not None  # 2 paper contracts do not count: 0 + 2 <= 3
    with pytest.raises(PositionLimitError):
        reserve("LIVE2", False)  # 2 live + 2 > 3
    with pytest.raises(PositionLimitError):
        reserve("PAPER2", True)  # 4 open in all + 2 > 3


def _claim(trade_id: str, firm: str, program_id: int, contracts: int, **caps) -> "Reservation":
    from database.position_repository import Reservation

    return Reservation(trade_id=trade_id, firm_code=firm, program_id=program_id, symbol="NQ", side="LONG",
                       contracts=contracts, entry_price="16500", stop_price="16475", task_id=None,
                       client_order_id=None, dry_run=False, **caps)


def test_one_entrys_claims_count_each_other_against_the_firms_limits(clean_pg):
    """An entry's claims are made together: each is checked against what is open plus the
    claims before it in the same entry, a refused one leaves the others standing."""
    import datetime as dt

    from database import EntryRateLimitError
    from database.records import EntryRateCap

    repo = ExecutionRepository(clean_pg)
    cap = EntryRateCap(max_entries=2, since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    assert repo.open_position(trade_id="OLD", firm_code="FTMO", program_id=1, symbol="NQ", side="LONG", contracts=3,
                              entry_price="16500", stop_price="16475", task_id=None, client_order_id=None,
                              dry_run=False) is not None
    outcomes = repo.reserve_positions([
        _claim("T1", "FTMO", 1, 2, firm_position_limit=6),   # 3 open + 2 = 5: fits
        _claim("T1", "FTMO", 2, 2, firm_position_limit=6),   # 5 + 2 = 7 > 6: refused
        _claim("T1", "FTMO", 3, 1, firm_position_limit=6),   # 5 + 1 = 6: fits
        _claim("T1", "APEX", 1, 1, rate_cap=cap),
        _claim("T1", "APEX", 2, 1, rate_cap=cap),
        _claim("T1", "APEX", 3, 1, rate_cap=cap),            # the third entry in the window: refused
        _claim("OLD", "FTMO", 1, 1),                          # already claimed
    ])
    kinds = [type(o).__name__ if o is not None else None for o in outcomes]
    assert kinds == ["PositionRecord", "PositionLimitError", "PositionRecord",
                     "PositionRecord", "PositionRecord", "EntryRateLimitError", None]
    assert isinstance(outcomes[5], EntryRateLimitError) and outcomes[5].recent == 2
    assert repo.open_contracts_for_firm("FTMO") == 6


def test_a_batch_whose_claim_is_invalid_claims_nothing(clean_pg):
    repo = ExecutionRepository(clean_pg)
    with pytest.raises(ValueError):
        repo.reserve_positions([_claim("T1", "FTMO", 1, 2), _claim("T1", "FTMO", 2, 0)])
    assert repo.open_positions_for_trade("T1") == []


def test_parallel_entries_over_two_firms_neither_deadlock_nor_pass_the_limits(clean_pg):
    """Entries naming the firms in opposite orders lock them in one order, so none waits on
    another crosswise (which PostgreSQL would end with a deadlock error), and both limits hold."""
    barrier = threading.Barrier(WORKERS)

    def entry(index: int) -> list[str]:
        engine = create_db_engine(postgres_test_url())
        try:
            firms = ["FTMO", "APEX"] if index % 2 else ["APEX", "FTMO"]
            barrier.wait(timeout=30)
            outcomes = ExecutionRepository(engine).reserve_positions(
                [_claim(f"T{index}", firm, 1, 2, firm_position_limit=5) for firm in firms])
            return [type(o).__name__ for o in outcomes]
        finally:
            engine.dispose()

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = [kind for kinds in pool.map(entry, range(WORKERS)) for kind in kinds]
    assert outcomes.count("PositionRecord") == 4 and outcomes.count("PositionLimitError") == 2 * WORKERS - 4
    repo = ExecutionRepository(clean_pg)
    assert (repo.open_contracts_for_firm("FTMO"), repo.open_contracts_for_firm("APEX")) == (4, 4)
