"""SQL for the account guard's trips (database/tables_guard.py). One transaction per method.

`record_trip` is the guard's once-per-breach decision: the unique key (account, book, trading
day) lets exactly one worker's insert through, and only that worker flattens.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from database.tables_guard import account_guard_trips as trips
from database.unit_of_work import Connections, connections
from domain.account_guard import GuardStatus, GuardTrigger


@dataclass(frozen=True)
class GuardTrip:
    """One trip as stored (`id` None until recorded)."""

    firm_code: str
    program_id: int
    simulated: bool
    day_start: dt.datetime
    tripped_at: dt.datetime
    until: dt.datetime
    triggered_by: GuardTrigger
    rule: str
    room: Decimal
    buffer: Decimal
    equity: Decimal
    open_pl: Decimal
    source: str
    reason: str
    status: GuardStatus = GuardStatus.FLATTENING
    outcome: Any = None
    released_at: dt.datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
    id: int | None = None

    def holds(self, now: dt.datetime) -> bool:
        """Whether the trip still keeps its program REDUCING at `now`."""
        return self.released_at is None and now < self.until

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "firm_code": self.firm_code, "program_id": self.program_id,
            "mode": "DRY_RUN" if self.simulated else "LIVE", "tripped_at": self.tripped_at.isoformat(),
            "until": self.until.isoformat(), "triggered_by": str(self.triggered_by), "rule": self.rule,
            "room": float(self.room), "buffer": float(self.buffer), "equity": float(self.equity),
            "open_pl": float(self.open_pl), "source": self.source, "status": str(self.status),
            "reason": self.reason, "outcome": self.outcome,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by, "release_reason": self.release_reason,
        }


_COLUMNS = ("firm_code", "program_id", "simulated", "day_start", "tripped_at", "until", "triggered_by", "rule", "room",
            "buffer", "equity", "open_pl", "source", "reason", "status", "outcome", "released_at", "released_by",
            "release_reason")


def _trip(row: Any) -> GuardTrip:
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["triggered_by"], values["status"] = GuardTrigger(row.triggered_by), GuardStatus(row.status)
    return GuardTrip(id=row.id, **values)


class GuardRepository:
    def __init__(self, engine: Engine | Connections) -> None:
        self._db = connections(engine)

    def record_trip(self, trip: GuardTrip) -> GuardTrip | None:
        """Store `trip`; None when the account already tripped in that book and trading day."""
        values = {name: getattr(trip, name) for name in _COLUMNS}
        values["triggered_by"], values["status"] = str(trip.triggered_by), str(trip.status)
        with self._db.transaction() as connection:
            insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
            statement = insert(trips).values(**values).on_conflict_do_nothing(
                index_elements=["firm_code", "program_id", "simulated", "day_start"]).returning(trips.c.id)
            row = connection.execute(statement).first()
        return None if row is None else GuardTrip(**{**values, "triggered_by": trip.triggered_by, "status": trip.status,
                                                      "id": int(row.id)})

    def finish(self, trip_id: int, outcome: Any) -> None:
        """Every exit of the trip was sent: DONE, with what each did."""
        with self._db.transaction() as connection:
            connection.execute(update(trips).where(trips.c.id == trip_id).values(
                status=str(GuardStatus.DONE), outcome=outcome))

    def unfinished(self) -> list[GuardTrip]:
        """Trips whose flattening did not finish (the service stopped in the middle)."""
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(select(trips).where(trips.c.status == str(GuardStatus.FLATTENING))
                                      .order_by(trips.c.id)).all()
        return [_trip(r) for r in rows]

    def latest(self, firm_code: str, program_id: int, simulated: bool | None = None) -> GuardTrip | None:
        """The account's most recent trip (in one book, or either)."""
        query = select(trips).where(trips.c.firm_code == firm_code, trips.c.program_id == program_id)
        if simulated is not None:
            query = query.where(trips.c.simulated == simulated)
        with self._db.transaction(one_statement=True) as connection:
            row = connection.execute(query.order_by(trips.c.id.desc()).limit(1)).first()
        return _trip(row) if row is not None else None

    def recent(self, limit: int = 50) -> list[GuardTrip]:
        with self._db.transaction(one_statement=True) as connection:
            rows = connection.execute(select(trips).order_by(trips.c.id.desc()).limit(limit)).all()
        return [_trip(r) for r in rows]

    def release(self, firm_code: str, program_id: int, *, at: dt.datetime, actor: str, reason: str) -> int:
        """End every hold of the account still running at `at` (an operator's decision, with who
        and why); how many were ended."""
        with self._db.transaction() as connection:
            result = connection.execute(update(trips).where(
                trips.c.firm_code == firm_code, trips.c.program_id == program_id,
                trips.c.released_at.is_(None), trips.c.until > at,
            ).values(released_at=at, released_by=actor[:128], release_reason=reason))
        return int(result.rowcount or 0)
