"""How far one scheduled run got (database/tables_schedule.py)."""
from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "RUNNING"  # claimed by a worker; a claim older than the lease may be taken over
    DONE = "DONE"
    FAILED = "FAILED"
