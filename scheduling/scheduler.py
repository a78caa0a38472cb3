"""Timed work (the flat-by cutoff, flattening before news, task recovery) on APScheduler, each run
once across every worker and instance that share the database.

Every worker runs the same `JobScheduler`: APScheduler fires each job at its next due instant
(a trigger that asks the job, `DueTrigger`), and the worker that first claims (job, due instant)
in `scheduled_runs` runs it; the others find the claim and skip. At start-up each job's latest
due instant that still applies is run if nobody ran it (a cutoff passed while the service was
down is applied then). A job must be safe to repeat: a claim whose worker died is taken over
after `LEASE`. `status()` feeds /health; every run is counted in the metrics.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from apscheduler.triggers.base import BaseTrigger

from database.schedule_repository import ScheduleRepository
from domain.scheduled_run import RunStatus
from observability import metrics

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
"""How long a claimed run may stay RUNNING before another worker may take it over."""

Due = Callable[[datetime], datetime | None]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ScheduledJob:
    """One kind of timed work. `next_due(now)`: its first due instant after `now` (None: none
    coming); `last_due(now)`: its latest due instant at or before `now` that should still be run
    if it was missed (None: nothing to catch up); `run(due)`: the work, returning what it did."""

    id: str
    description: str
    next_due: Due
    last_due: Due
    run: Callable[[datetime], Any]


class DueTrigger(BaseTrigger):
    """An APScheduler trigger that fires at whatever instant the job says is next."""

    def __init__(self, next_due: Due) -> None:
        self._next_due = next_due

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        after = max(previous_fire_time, now) if previous_fire_time is not None else now
        return self._next_due(after)


class JobScheduler:
    def __init__(self, jobs: Iterable[ScheduledJob], runs: ScheduleRepository,
                 clock: Callable[[], datetime] = _utc_now, worker: str | None = None) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.runs = runs
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._seen: set[tuple[str, datetime]] = set()  # runs this worker already claimed or found claimed
        self._lock = threading.Lock()
        self._scheduler: Any = None

    def run_due(self, now: datetime | None = None, only: str | None = None) -> list[tuple[str, datetime, Any]]:
        """Run each job (or `only` that one) whose latest due instant nobody has run yet; what ran."""
        now = now if now is not None else self.clock()
        done = []
        for job in self.jobs.values():
            if only is not None and job.id != only:
                continue
            due = job.last_due(now)
            if due is not None and self._claim(job, due, now):
                done.append((job.id, due, self._execute(job, due)))
        return done

    def _claim(self, job: ScheduledJob, due: datetime, now: datetime) -> bool:
        with self._lock:
            if (job.id, due) in self._seen:
                return False
            self._seen.add((job.id, due))
        return self.runs.claim(job.id, due, self.worker, now, LEASE)

    def _execute(self, job: ScheduledJob, due: datetime) -> Any:
        try:
            detail = job.run(due)
        except Exception as exc:  # noqa: BLE001 - recorded and counted; the next due instant still comes
            log.exception("scheduled job %s (due %s) failed", job.id, due.isoformat())
            detail = {"error": type(exc).__name__, "message": str(exc)[:500]}
            status = RunStatus.FAILED
        else:
            status = RunStatus.DONE
        self.runs.finish(job.id, due, status, detail, self.clock())
        metrics.observe_scheduled_run(job.id, status, due)
        return detail

    def status(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Each job's last run (from the database: whichever worker ran it) and next due instant."""
        now = now if now is not None else self.clock()
        latest = self.runs.latest()
        out = []
        for job in self.jobs.values():
            nxt = job.next_due(now)
            last = latest.get(job.id)
            out.append({"id": job.id, "description": job.description,
                        "next_run": nxt.isoformat() if nxt else None, "last_run": last.to_dict() if last else None})
        return out

    def start(self) -> "JobScheduler":
        """Fire each job at its due instants in a background thread; first catch up on what was
        missed (in that thread too, so starting a worker waits for nothing)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        if self._scheduler is not None or not self.jobs:
            return self
        scheduler = BackgroundScheduler(daemon=True, timezone=timezone.utc,
                                        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        for job in self.jobs.values():
            scheduler.add_job(self.run_due, DueTrigger(job.next_due), kwargs={"only": job.id}, id=job.id)
        scheduler.add_job(self.run_due, "date", run_date=_utc_now(), id="catch-up")
        scheduler.start()
        self._scheduler = scheduler
        return self

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
