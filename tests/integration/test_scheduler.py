"""The job scheduler on both databases: a due run happens once across workers, a run missed while
nobody was up is caught up, a dead worker's claim is taken over after its lease, failures are
recorded, and status() shows each job's last and next run."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from database.schedule_repository import ScheduleRepository
from scheduling.scheduler import LEASE, DueTrigger, JobScheduler, ScheduledJob

CUTOFF = datetime(2026, 3, 10, 20, 8, tzinfo=timezone.utc)


def cutoff_job(ran: list, fail: bool = False) -> ScheduledJob:
    """Due daily at 20:08 UTC; a missed cutoff still applies until 22:00 the same day."""
    def last(now: datetime) -> datetime | None:
        today = now.replace(hour=20, minute=8, second=0, microsecond=0)
        return today if today <= now < now.replace(hour=22, minute=0, second=0, microsecond=0) else None

    def nxt(now: datetime) -> datetime:
        today = now.replace(hour=20, minute=8, second=0, microsecond=0)
        return today if today > now else today + timedelta(days=1)

    def run(due: datetime) -> dict:
        ran.append(due)
        if fail:
            raise RuntimeError("firm unreachable")
        return {"closed": 1}

    return ScheduledJob("flat-by:TEST.1", "close TEST 1", nxt, last, run)


def test_a_due_run_happens_once_across_workers(db_engine):
    ran: list = []
    workers = [JobScheduler([cutoff_job(ran)], ScheduleRepository(db_engine), worker=f"w{i}") for i in range(4)]
    start = threading.Barrier(len(workers))

    def fire(scheduler):
        start.wait()
        scheduler.run_due(CUTOFF + timedelta(seconds=1))

    threads = [threading.Thread(target=fire, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert ran == [CUTOFF]
    [run] = ScheduleRepository(db_engine).runs_of("flat-by:TEST.1")
    assert (run.status, run.detail) == ("DONE", {"closed": 1})


def test_a_cutoff_missed_while_down_is_applied_at_start_but_not_after_it_lapsed(db_engine):
    ran: list = []
    scheduler = JobScheduler([cutoff_job(ran)], ScheduleRepository(db_engine))
    assert scheduler.run_due(CUTOFF - timedelta(minutes=1)) == []  # not due yet
    assert scheduler.run_due(CUTOFF + timedelta(minutes=40)) == [("flat-by:TEST.1", CUTOFF, {"closed": 1})]
    restarted = JobScheduler([cutoff_job(ran)], ScheduleRepository(db_engine))
    assert restarted.run_due(CUTOFF + timedelta(minutes=50)) == []  # ran already: not again
    next_day = JobScheduler([cutoff_job(ran)], ScheduleRepository(db_engine))
    assert next_day.run_due(CUTOFF + timedelta(hours=3)) == []  # 23:08: that cutoff no longer applies
    assert ran == [CUTOFF]


def test_a_dead_workers_claim_is_taken_over_after_the_lease(db_engine):
    repository = ScheduleRepository(db_engine)
    assert repository.claim("flat-by:TEST.1", CUTOFF, "dead-worker", CUTOFF, LEASE)  # it died running
    ran: list = []
    soon = JobScheduler([cutoff_job(ran)], repository)
    assert soon.run_due(CUTOFF + LEASE - timedelta(seconds=1)) == [] and ran == []
    later = JobScheduler([cutoff_job(ran)], repository)
    assert [due for _, due, _ in later.run_due(CUTOFF + LEASE + timedelta(seconds=1))] == [CUTOFF]
    assert repository.runs_of("flat-by:TEST.1")[0].worker == later.worker


def test_a_failed_run_is_recorded_and_status_shows_last_and_next(db_engine):
    ran: list = []
    scheduler = JobScheduler([cutoff_job(ran, fail=True)], ScheduleRepository(db_engine), worker="w1")
    scheduler.run_due(CUTOFF)
    [status] = scheduler.status(CUTOFF + timedelta(minutes=1))
    assert status["next_run"] == (CUTOFF + timedelta(days=1)).isoformat()
    last = status["last_run"]
    assert (last["status"], last["due_at"], last["worker"]) == ("FAILED", CUTOFF.isoformat(), "w1")
    assert last["detail"] == {"error": "RuntimeError", "message": "firm unreachable"}


def test_the_trigger_fires_when_the_job_says_it_is_next_due():
    trigger = DueTrigger(cutoff_job([]).next_due)
    assert trigger.get_next_fire_time(None, CUTOFF - timedelta(seconds=5)) == CUTOFF
    assert trigger.get_next_fire_time(CUTOFF, CUTOFF) == CUTOFF + timedelta(days=1)
