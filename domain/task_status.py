"""The lifecycle of an execution task (the guide's statuses).

The database does not enforce them (no CHECK): the router owns the lifecycle, and the guide's
psql queries filter on these spellings.
"""
from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "PENDING"        # recorded, not yet picked up
    PROCESSING = "PROCESSING"  # routing; orders may be leaving
    COMPLETED = "COMPLETED"    # routed, result logged
    FAILED = "FAILED"          # routing failed, result and error logged
