"""scheduled_runs: one row per run of a timed job (the flat-by cutoff, a news flattening, task
recovery), keyed by the job and the instant it was due.

The primary key is how a run happens once across every worker and instance sharing the database:
each one's scheduler fires, the first insert wins and runs it, the others find the row. A claim
still RUNNING after its lease (the worker died) may be taken over; the jobs are safe to repeat.
Created by migration ``0104_scheduled_runs`` and ``database/scheduled_runs_schema.sql``.
"""
from __future__ import annotations

from sqlalchemy import Column, PrimaryKeyConstraint, String, Table

from database.tables import JsonDocument, Timestamp, metadata, one_of
from domain.scheduled_run import RunStatus

scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("job_id", String(64), nullable=False),
    Column("due_at", Timestamp, nullable=False),
    Column("claimed_at", Timestamp, nullable=False),
    Column("worker", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("finished_at", Timestamp, nullable=True),
    Column("detail", JsonDocument, nullable=True),
    PrimaryKeyConstraint("job_id", "due_at", name="scheduled_runs_pkey"),
    one_of("status", RunStatus, name="scheduled_runs_status_check"),
)
