"""The task lifecycle every signal goes through: record it PENDING, run its stage, finish it with
one log row. Recovery (safety/recovery.py) re-runs a stuck task through the same `run_task`.

Order of durable writes (the audit trail survives a crash at any point):
1. the execution_tasks row is committed as PENDING before anything else happens;
2. it is set PROCESSING before the first check;
3. the stage reserves/claims and journals before any order leaves (routing/sending.py);
4. one transaction writes the execution_logs row with the whole result and sets the task
   COMPLETED (or FAILED with the error).
When no order can leave the service (every connector in dry-run, or an informational event),
steps 2-4 run as one deferred `UnitOfWork` (database/unit_of_work.py): nothing is in flight that a
committed PROCESSING row or reservation would have to vouch for, so every write commits together
with the log row, and a crash leaves the task PENDING for recovery with none of its half-done work
applied. Step 2 is then only the task's row lock, taken when the transaction begins.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any, Callable, Mapping

from account_engine.trading_day import trading_day_start
from config import RuleBook, Settings
from connectors import BaseConnector
from database import ExecutionRepository, TaskAlreadyFinishedError
from database.entry_inputs import EntryInputs, LedgerWindow, read_entry_inputs_sized
from database.json_documents import result_json
from database.unit_of_work import AutoCommit, Connections, UnitOfWork
from domain.task_status import TaskStatus
from observability.task_context import bind_task
from routing.results import Outcome, ResultDocument, blank_result, document
from safety.guard import annotated_details
from signals import EXIT_TYPES, Signal

log = logging.getLogger(__name__)

Process = Callable[[int, Signal, Connections], Outcome]
"""A stage: the task's id, its signal and the unit of work its writes go to in; what it decided out."""


class TaskRunner:
    """Records and finishes tasks around a stage; the router supplies the stages."""

    settings: Settings
    rules: RuleBook
    connectors: Mapping[str, BaseConnector]
    clock: Callable[[], datetime]
    dry_run: bool
    force_dry_run: bool
    process_entry: Callable[..., Outcome]

    def __init__(self, repository: ExecutionRepository | None) -> None:
        self._repository = repository

    @property
    def repository(self) -> ExecutionRepository:
        """Lazily built from settings, so `ExecutionRouter(dry_run=True)` works on its own."""
        if self._repository is None:
            from database import create_db_engine, upgrade_to_head
            from database.engine import DatabaseTimeouts

            url = self.settings.database_url.get_secret_value() if self.settings.database_url else None
            engine = create_db_engine(url, self.settings.sqlite_path, DatabaseTimeouts.of(self.settings))
            upgrade_to_head(engine)
            self._repository = ExecutionRepository(engine)
        return self._repository

    def blank_result(self, task_id: int, signal: Signal) -> dict[str, Any]:
        """The task's document before any stage ran."""
        modes = {code: ("DRY_RUN" if c.dry_run else "LIVE") for code, c in self.connectors.items()}
        return blank_result(task_id, signal, self.dry_run, modes)

    def routed_firms(self, signal: Signal) -> list[str]:
        """The firms an entry is checked against: those its route names (ROUTES, else ROUTE_TO_FIRMS)."""
        return list(self.rules.routes_for(signal).firm_codes)

    def handle_task(self, signal: Signal, raw_payload: dict[str, Any] | None, process: Process,
                    idempotency_key: str | None = None, noted: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record the task, run `process` on it, finish it; `noted`: result fields set up front."""
        stored = raw_payload if raw_payload is not None else signal.payload()
        if self._may_send(signal):
            db = AutoCommit(self.repository.engine)  # each step durable before any order leaves
            task_id = self._create_task(db, signal, stored, idempotency_key)
            db.tasks.set_task_status(task_id, TaskStatus.PROCESSING)
            return self.run_task(task_id, signal, process, noted, db=db)
        # Nothing can leave the service, so every write, the log row and COMPLETED commit
        # together, after the PENDING commit, on one pooled connection.
        with UnitOfWork(self.repository.engine) as uow:
            if process == self.process_entry:  # the PENDING insert also reads the entry's inputs
                task_id, inputs = self._create_entry_task(uow, signal, stored, idempotency_key)
                process = partial(self.process_entry, inputs=inputs)
            else:
                task_id = self._create_task(uow, signal, stored, idempotency_key)
            # Deferred: reads and the finish run on their own; a transaction (with the task's row
            # lock, to keep recovery off it) only when something else is written.
            uow.begin(deferred=True, on_begin=lambda: uow.tasks.lock_task(task_id))
            try:
                result = self.run_task(task_id, signal, process, noted, db=uow, record_failure=False)
                uow.commit()
                return result
            except TaskAlreadyFinishedError:  # recovery finished it first: that is its result
                uow.rollback()
                return self._recorded_result(uow, task_id)
            except Exception as exc:  # rolled back whole: record the failure on its own
                uow.rollback()
                try:
                    return self._fail_task(uow, task_id, signal, noted, exc)
                except TaskAlreadyFinishedError:
                    return self._recorded_result(uow, task_id)

    def run_task(self, task_id: int, signal: Signal, process: Process, noted: dict[str, Any] | None = None,
                 record_failure: bool = True, db: Connections | None = None) -> dict[str, Any]:
        """Run `process` on an existing PROCESSING task and record its one result (also recovery's).

        `db`: the unit of work the stage's writes go to (default: each call commits). With
        `record_failure=False` an error propagates (the caller rolls its unit back and records
        the failure on its own)."""
        db = db if db is not None else AutoCommit(self.repository.engine)
        try:
            outcome = process(task_id, signal, db)
        except Exception as exc:  # the task must end FAILED with its error, never stay PROCESSING
            if not record_failure:
                raise
            return self._fail_task(db, task_id, signal, noted, exc)
        result = document(self.blank_result(task_id, signal), noted, outcome)
        result["details"] = annotated_details(outcome.trading_state, signal.action, outcome.connector_results,
                                              outcome.details)
        stored = ResultDocument(result, result_json(result))
        db.tasks.finish_task(task_id, TaskStatus.COMPLETED, result, stored_json=stored.json_text)
        return stored

    def _fail_task(self, db: Connections, task_id: int, signal: Signal, noted: dict[str, Any] | None,
                   exc: Exception) -> dict[str, Any]:
        log.exception("task %s failed", task_id, exc_info=exc)
        result = {**self.blank_result(task_id, signal), **(noted or {})}
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["details"] = "Task failed; see error. No further orders were sent for it."
        db.tasks.finish_task(task_id, TaskStatus.FAILED, result, error=result["error"])
        return result

    def _recorded_result(self, db: Connections, task_id: int) -> dict[str, Any]:
        """The result another worker recorded for this task. Only a dry-run task that took longer
        than STUCK_TASK_SECONDS can meet this: recovery re-ran it and its log row came first."""
        log.warning("task %s was finished by another worker (recovery) first; answering with that result", task_id)
        recorded = db.tasks.get_log_for_task(task_id)
        assert recorded is not None  # TaskAlreadyFinishedError means the row exists
        return dict(recorded["response_body"])

    def _may_send(self, signal: Signal) -> bool:
        """False when this signal cannot reach a firm: informational, or every connector in dry-run."""
        informational = signal.event_type not in self.settings.entry_event_types and signal.event_type not in EXIT_TYPES
        return not informational and not all(c.dry_run for c in self.connectors.values())

    def _create_task(self, db: Connections, signal: Signal, stored: dict[str, Any], idempotency_key: str | None) -> int:
        """The PENDING row, committed before anything else happens."""
        task_id = db.tasks.create_task(signal.trade_id, signal.event_type, stored, idempotency_key=idempotency_key)
        bind_task(task_id=task_id, trade_id=signal.trade_id)  # every log line from here names the task
        return task_id

    def _create_entry_task(self, db: Connections, signal: Signal, stored: dict[str, Any],
                           idempotency_key: str | None) -> tuple[int, EntryInputs]:
        """`_create_task` and `read_entry_inputs` in one round trip (PostgreSQL)."""
        firm_codes = self.routed_firms(signal)
        task_id, inputs = db.tasks.create_entry_task(
            signal.trade_id, signal.event_type, stored, firm_codes, idempotency_key=idempotency_key,
            ledger_window=lambda: self._ledger_window(firm_codes))
        bind_task(task_id=task_id, trade_id=signal.trade_id)
        return task_id, inputs

    def read_entry_inputs(self, db: Connections, signal: Signal) -> EntryInputs:
        """Trading state, open contracts and ledgers of every firm this entry routes to (one query)."""
        firm_codes = self.routed_firms(signal)
        return read_entry_inputs_sized(db, firm_codes, lambda: self._ledger_window(firm_codes))

    def _ledger_window(self, firm_codes: list[str]) -> LedgerWindow | None:
        """The instant this entry's account states are for, with each firm's trading-day start
        then, so the database can summarise the ledgers (the repository decides whether to)."""
        now = self.clock()
        day_starts, live_books, trading_days = {}, {}, {}
        for code in firm_codes:
            firm = self.settings.firm(code)
            if firm is None:
                return None  # unknown firm: read the events; the account views will refuse it
            day_starts[code] = trading_day_start(now, firm.trading_day_start, firm.trading_day_timezone)
            live_books[code] = not (firm.dry_run or self.force_dry_run)  # as AccountService.live_book
            trading_days[code] = (firm.trading_day_start, firm.trading_day_timezone)
        # the repository's size hint decides whether to summarise
        return LedgerWindow(now, day_starts, summarise=None, live_books=live_books, trading_days=trading_days)
