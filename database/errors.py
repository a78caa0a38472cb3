"""The repository's expected, domain-level failures.

A conflict the database decides (a repeated signal, a second result, a limit another entry
reached first) is an outcome the caller handles, so it surfaces as one of these rather than as
a driver error.
"""
from __future__ import annotations


class RepositoryError(Exception):
    """Base class for the expected, domain-level failures of the repository."""


class TaskNotFoundError(RepositoryError, LookupError):
    """The task id does not exist."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"execution task {task_id} does not exist")
        self.task_id = task_id


class PositionNotFoundError(RepositoryError, LookupError):
    """The position id does not exist."""

    def __init__(self, position_id: int) -> None:
        super().__init__(f"trade position {position_id} does not exist")
        self.position_id = position_id


class TaskAlreadyFinishedError(RepositoryError):
    """The task already has its log row: a task has exactly one result."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"execution task {task_id} already has a result in execution_logs")
        self.task_id = task_id


class DuplicateIdempotencyKeyError(RepositoryError):
    """A task with this idempotency key exists already: the signal was seen before."""

    def __init__(self, idempotency_key: str, existing_task_id: int) -> None:
        super().__init__(
            f"a task with idempotency key {idempotency_key!r} exists already "
            f"(task {existing_task_id})"
        )
        self.idempotency_key = idempotency_key
        self.existing_task_id = existing_task_id


class PositionLimitError(RepositoryError):
    """Reserving would take the firm past its max_position_size (another entry got there first)."""

    def __init__(self, firm_code: str, open_contracts: int, requested: int, limit: int) -> None:
        super().__init__(
            f"{firm_code}: {open_contracts} contract(s) already open + {requested} requested "
            f"exceeds max_position_size {limit}"
        )
        self.firm_code = firm_code
        self.open_contracts = open_contracts
        self.requested = requested
        self.limit = limit


class EntryRateLimitError(RepositoryError):
    """Reserving would take the firm past its entries-per-window cap (another entry got there first)."""

    def __init__(self, firm_code: str, recent: int, limit: int) -> None:
        super().__init__(f"{firm_code}: {recent} entry order(s) in the last minute already; the cap is {limit}")
        self.firm_code = firm_code
        self.recent = recent
        self.limit = limit
