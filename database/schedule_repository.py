"""SQL for scheduled runs (database/tables_schedule.py). One transaction per method.

`claim` is the once-across-workers decision: an insert keyed by (job, due instant) that only one
worker's can make, or the takeover of a claim whose worker stopped answering (RUNNING past its
lease).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from database.tables_schedule import scheduled_runs as runs
from database.unit_of_work import Connections, connections
from domain.scheduled_run import RunStatus


@dataclass(frozen=True)
class ScheduledRun:
    job_id: str
    due_at: dt.datetime
    claimed_at: dt.datetime
    worker: str
    status: RunStatus
    finished_at: dt.datetime | None = None
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"due_at": self.due_at.isoformat(), "claimed_at": self.claimed_at.isoformat(), "worker": self.worker,
                "status": str(self.status), "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "detail": self.detail}


def _run(row: Any) -> ScheduledRun:
    return ScheduledRun(row.job_id, row.due_at, row.claimed_at, row.worker, RunStatus(row.status), row.finished_at,
                        row.detail)


class ScheduleRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)

    def claim(self, job_id: str, due_at: dt.datetime, worker: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Whether this worker runs the job's run due at `due_at` (no other worker has, or the
        one that claimed it left it RUNNING for longer than `lease`)."""
        with self._db.transaction() as connection:
            insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
            statement = insert(runs).values(job_id=job_id, due_at=due_at, claimed_at=now, worker=worker[:128],
                                            status=str(RunStatus.RUNNING))
            statement = statement.on_conflict_do_update(
                index_elements=["job_id", "due_at"],
                set_={"claimed_at": statement.excluded.claimed_at, "worker": statement.excluded.worker},
                where=(runs.c.status == str(RunStatus.RUNNING)) & (runs.c.claimed_at < now - lease),
            ).returning(runs.c.job_id)
            return connection.execute(statement).first() is not None

    def finish(self, job_id: str, due_at: dt.datetime, status: RunStatus, detail: Any, at: dt.datetime) -> None:
        with self._db.transaction() as connection:
            connection.execute(update(runs).where(runs.c.job_id == job_id, runs.c.due_at == due_at).values(
                status=str(status), detail=detail, finished_at=at))

    def latest(self) -> dict[str, ScheduledRun]:
        """Each job's most recent run."""
        newest = select(runs.c.job_id, func.max(runs.c.due_at).label("due_at")).group_by(runs.c.job_id).subquery()
        query = select(runs).join(newest, (runs.c.job_id == newest.c.job_id) & (runs.c.due_at == newest.c.due_at))
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(query).all()
        return {r.job_id: _run(r) for r in rows}

    def runs_of(self, job_id: str) -> list[ScheduledRun]:
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(select(runs).where(runs.c.job_id == job_id).order_by(runs.c.due_at)).all()
        return [_run(r) for r in rows]
