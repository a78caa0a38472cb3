"""Crash recovery: tasks left PENDING/PROCESSING by a killed worker are finished exactly once.

Run at start-up of every worker and periodically (RECOVERY_INTERVAL_SECONDS) by a daemon thread,
and by hand with ``flask --app web_server recover-tasks``. A task counts as stuck when it has not
moved for STUCK_TASK_SECONDS (default 120 s, far above a request's 3 s budget, so a task that is
merely slow in another worker is never taken). ``SafetyRepository.claim_stuck_tasks`` uses
``FOR UPDATE SKIP LOCKED`` and bumps ``updated_at``, so concurrent workers never claim the same task.

What happens to a claimed task:
- every firm it touches is in dry-run: it is re-run (checks and the dry-run "send" are pure;
  positions it had already reserved stay, and are reported TRADE_ALREADY_OPENED, never doubled);
  an entry is judged for its age like any other (safety/signal_age.py), from the task's
  ``created_at`` - PostgreSQL's ``now()`` when the PENDING insert began, taken before any lock wait
  of that insert (tests/integration/test_signal_age.py) - so one recovered minutes later is
  COMPLETED with SIGNAL_TOO_OLD results and reserves nothing;
- a live entry that had reserved no live position yet: nothing was sent; it is FAILED with
  ``RECOVERED_ENTRY_NOT_SENT`` rather than sent minutes late;
- a live entry that had reserved positions: settled by client order id (``_settle_live_entry``):
  reservations whose order was never journalled (so never sent) are released, journalled orders
  of unknown outcome are looked up at the firm; finished when every order is known, never resent;
- otherwise (a live exit, or a firm that cannot tell): the outcome at the firm is unknown, so the
  task is FAILED with ``UNKNOWN_OUTCOME_NEEDS_RECONCILIATION`` and nothing is resent;
  ``flask reconcile-orders`` settles journalled orders.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from database.safety_repository import SafetyRepository, StuckTask
from database.stall_guard import BoundedCalls
from database.tables_connector_orders import ORDER_PENDING, ORDER_UNKNOWN
from safety.exit_resend import ResendPlan, plan_resend, resent_task_id
from safety.signal_age import SignalReceipt, receipt
from signals import SignalError, parse_signal

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME_NEEDS_RECONCILIATION"
UNRESOLVED_ORDER_STATES = (ORDER_PENDING, ORDER_UNKNOWN)
STALE_ENTRY = "RECOVERED_ENTRY_NOT_SENT"



def recover_stuck_tasks(router: Any, older_than_seconds: int) -> list[dict[str, Any]]:
    """Finish every stuck task once; returns one summary per recovered task. Database calls are
    bounded as in a request (database/stall_guard.py): a stalled database ends the round."""
    safety = SafetyRepository(router.repository.engine)
    summaries = []
    with BoundedCalls():
        for task in safety.claim_stuck_tasks(older_than_seconds):
            try:
                summaries.append(_recover(router, safety, task))
            except Exception:  # one bad task must not stop the others; it stays visible as PROCESSING
                log.exception("recovery of task %s failed", task.id)
    return summaries


def recover_at_start_up(router: Any, older_than_seconds: int) -> list[dict[str, Any]]:
    """`recover_stuck_tasks` for a worker that is starting: a database that is locked (its lock
    timeout) or unreachable then must not fail the boot - gunicorn shuts the whole server down
    when a worker cannot boot. The periodic recovery (or the next start) tries again."""
    try:
        return recover_stuck_tasks(router, older_than_seconds)
    except SQLAlchemyError as exc:
        log.warning("start-up task recovery could not run (%s); it is retried every RECOVERY_INTERVAL_SECONDS",
                    type(exc).__name__)
        return []


def _recover(router: Any, safety: SafetyRepository, task: StuckTask) -> dict[str, Any]:
    try:
        signal = parse_signal(task.payload)
    except SignalError as exc:
        error = f"RECOVERY_UNPARSEABLE: {exc}"
        router.repository.finish_task(task.id, "FAILED", {"task_id": task.id, "recovered": True, "error": error}, error=error)
        return {"task_id": task.id, "outcome": "FAILED", "error": error}
    positions = safety.positions_touched_by_task(task.id, task.trade_id)
    any_live = any(not c.dry_run for c in router.connectors.values())
    if signal.action == "ENTRY":
        positions = [p for p in positions if p["opened_task_id"] == task.id]
    if signal.action == "ENTRY" and any_live and not any(not p["dry_run"] for p in positions):
        # Died before reserving a live position: nothing was sent. A minutes-old entry is not
        # sent late (fail closed); the trader sees why.
        error = STALE_ENTRY
        result = router.blank_result(task.id, signal)
        result.update({"recovered": True, "error": error,
                       "details": "Worker died before any live entry order was sent; the stale entry was not sent late."})
        router.repository.finish_task(task.id, "FAILED", result, error=error)
        return {"task_id": task.id, "outcome": "FAILED", "error": error}
    live_involved = any(not p["dry_run"] for p in positions) or (signal.action == "EXIT" and any_live)
    if live_involved and signal.action == "ENTRY":
        settled = _settle_live_entry(router, task, positions)
        if settled is not None:
            return settled
    if live_involved:
        error = UNKNOWN_OUTCOME
        result = router.blank_result(task.id, signal)
        result.update({
            "recovered": True, "error": error,
            "details": "Worker died mid-task with a live firm involved; the order may or may not have been sent. "
                       "Nothing was resent: check the firm by client order id and reconcile the position.",
            "positions": [{k: p[k] for k in ("firm_code", "program_id", "client_order_id", "status", "dry_run")} for p in positions],
        })
        router.repository.finish_task(task.id, "FAILED", result, error=error)
        log.error("task %s: %s", task.id, error)
        return {"task_id": task.id, "outcome": "FAILED", "error": error}
    with receipt(_receipt_of(router, task)):  # an entry is refused when too old (SIGNAL_TOO_OLD)
        process, noted = router.processor_for(signal, _resend_plan(router, task))
        result = router.run_task(task.id, signal, process, noted={"recovered": True, **(noted or {})})
    log.warning("task %s recovered after a crash by re-running it (dry-run)", task.id)
    return {"task_id": task.id, "outcome": "RERUN", "error": result.get("error")}


def _resend_plan(router: Any, task: StuckTask) -> ResendPlan | None:
    """A resent exit's attempt re-runs only where the attempt it follows failed, as it would
    have: run whole, a resent partial exit could close a second part where the first filled."""
    of_task = resent_task_id(task.idempotency_key)
    if of_task is None:
        return None
    previous = router.repository.get_log_for_task(of_task)
    plan = plan_resend(previous["response_body"], of_task) if previous is not None else None
    return plan if plan is not None else ResendPlan(of_task, frozenset())  # nothing known to resend


def _receipt_of(router: Any, task: StuckTask) -> SignalReceipt:
    """The task's arrival as recovery can know it: its row's ``created_at`` (database time, so it
    is measured against the wall clock, not the router's injectable one)."""
    row = router.repository.get_task(task.id)
    received_at = row["created_at"] if row is not None else None
    if received_at is None:  # gone meanwhile: judge it as received long ago (fail closed)
        received_at = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return SignalReceipt(received_at, router.settings.max_signal_age_seconds, _wall_clock)


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _settle_live_entry(router: Any, task: StuckTask, positions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Settle a crashed live entry by client order id, never by resending; None if it cannot be.

    The dispatcher journals every live order (connector_orders) *before* sending it, so a
    reserved live position whose client order id has no journal row was never sent: its
    reservation is released. Journalled orders still PENDING/UNKNOWN are looked up at the firm
    (connectors/reconcile.py). When every order of the task is then known, the task is finished
    with what happened; otherwise it stays for the operator (FAILED, UNKNOWN_OUTCOME)."""
    reconciler = router.reconciler()
    outcomes = [{"client_order_id": cid, "status": status}
                for cid, status in reconciler.reconcile_unresolved(task.trade_id)]
    for p in positions:
        if not p["dry_run"] and p["status"] == "OPEN" and p["client_order_id"] \
                and reconciler.journal.get(p["client_order_id"]) is None:
            router.repository.release_position(p["id"])
            outcomes.append({"client_order_id": p["client_order_id"], "status": "NOT_SENT_RELEASED"})
    orders = reconciler.journal.for_task(task.id)
    if any(order.status in UNRESOLVED_ORDER_STATES for order in orders):
        return None
    signal = parse_signal(task.payload)
    result = router.blank_result(task.id, signal)
    result.update({"recovered": True, "reconciled_orders": outcomes})
    if not orders:  # nothing reached a firm: the stale entry is not sent late
        result.update({"error": STALE_ENTRY,
                       "details": "Worker died before any live entry order was sent; the stale entry was not sent late."})
        router.repository.finish_task(task.id, "FAILED", result, error=STALE_ENTRY)
        return {"task_id": task.id, "outcome": "FAILED", "error": STALE_ENTRY}
    result["details"] = ("Recovered after a crash: the task's orders were reconciled with the firms by "
                         "client order id; nothing was resent.")
    router.repository.finish_task(task.id, "COMPLETED", result)
    log.warning("task %s recovered by reconciliation: %s", task.id, outcomes)
    return {"task_id": task.id, "outcome": "RECONCILED"}


class RecoveryThread:
    """Periodic recovery in each worker (a daemon thread; stop() ends it)."""

    def __init__(self, router: Any, older_than_seconds: int, interval_seconds: int):
        # A weak reference: an app that was thrown away (tests build many) ends its thread
        # instead of leaving it to recover tasks in a database it no longer owns.
        self._router = weakref.ref(router)
        self._older = older_than_seconds
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-recovery", daemon=True)

    def start(self) -> "RecoveryThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            router = self._router()
            if router is None:
                return
            try:
                recover_stuck_tasks(router, self._older)
            except Exception:  # database down: try again next round
                log.warning("periodic task recovery could not run", exc_info=True)
            finally:
                del router
