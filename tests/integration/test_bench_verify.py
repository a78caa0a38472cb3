"""The benchmark's row check (bench/verify.py) finds lost, doubled and unfinished signals.

`make bench` reports "0 lost / 0 extra" only if this check can actually see a missing or
duplicated task, so it is exercised here on real PostgreSQL rows written by the repository.
No timing is measured.
"""
from __future__ import annotations

import pytest

from bench.verify import check_rows, expected_keys
from database import ExecutionRepository
from tests.conftest import reset_pg
from tests.db_fixtures import connect_postgres_or_fail


@pytest.fixture
def repo():
    reset_pg()
    engine = connect_postgres_or_fail()
    yield ExecutionRepository(engine)
    engine.dispose()


def _finished(repo: ExecutionRepository, trade_id: str, event_type: str = "SIGNAL_CREATED") -> int:
    task_id = repo.create_task(trade_id, event_type, {"trade_id": trade_id})
    repo.finish_task(task_id, "COMPLETED", {"ok": True})
    return task_id


def test_expected_keys_skip_the_request_wrk_discards_and_pair_exits():
    # thread 1 request 1 is wrk's discarded verification call
    assert set(expected_keys("p", {"1": 3, "2": 2})) == {
        ("p-1-2", "entry"), ("p-1-3", "entry"), ("p-2-1", "entry"), ("p-2-2", "entry")}
    # mix: odd requests open trade (n+1)//2, even ones exit it
    assert set(expected_keys("m", {"2": 4}, mode="mix")) == {
        ("m-2-1", "entry"), ("m-2-1", "exit"), ("m-2-2", "entry"), ("m-2-2", "exit")}


def test_every_signal_sent_has_one_completed_task_and_log(repo):
    for n in (1, 2, 3):
        _finished(repo, f"b-2-{n}")
    _finished(repo, "other-2-1")  # another level's prefix is not counted
    check = check_rows(repo.engine, "b", expected_keys("b", {"2": 3}))
    assert check.ok
    assert (check.expected, check.tasks, check.lost, check.extra, check.unfinished) == (3, 3, 0, 0, 0)


def test_lost_duplicated_and_unfinished_signals_are_reported(repo):
    _finished(repo, "b-2-1")
    _finished(repo, "b-2-1")  # the same signal recorded twice
    stuck = repo.create_task("b-2-2", "SIGNAL_CREATED", {"trade_id": "b-2-2"})
    repo.set_task_status(stuck, "PROCESSING")  # never finished, no log row
    _finished(repo, "b-9-1")  # a trade id that was never sent
    # b-2-3 was sent but left no row at all
    check = check_rows(repo.engine, "b", expected_keys("b", {"2": 3}))
    assert not check.ok
    assert check.lost == 1
    assert check.extra == 2
    assert check.unfinished == 1
    assert check.tasks == 4


def test_a_completed_exit_does_not_stand_in_for_a_missing_entry(repo):
    _finished(repo, "m-2-1", "EXIT_STOP_LOSS")
    check = check_rows(repo.engine, "m", expected_keys("m", {"2": 2}, mode="mix"))
    assert (check.lost, check.extra) == (1, 0)
