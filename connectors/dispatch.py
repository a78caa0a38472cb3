"""Fan one request's orders out to the firms in parallel, inside one overall deadline, with a
durable journal row per live submission.

Why: TradingView gives up after 3 s, so the whole webhook must answer in about 2.5 s even when
a firm hangs. Each live order is journalled (connector_orders, PENDING) *before* it is sent; a
call still running at the deadline is reported UNKNOWN and left to finish in the background:
its late answer is recorded if it is a success, while a late failure leaves the row UNKNOWN for
the reconciler (the router kept the position for an UNKNOWN, so only reconciliation may release
it). A client order id already in the journal is never sent again.

An entry is judged for its signal's age (MAX_SIGNAL_AGE_SECONDS, safety/signal_age.py) right
before it is sent, the last moment possible: one refused is SKIPPED with SIGNAL_TOO_OLD and its
journal row FAILED (never sent), and the router gives its reservation back (`not_sent`).

Once an order is out, the firm's answer is its outcome: a journal write failing after the send
(the database refusing connections under load, say) is logged and leaves the row PENDING for
the reconciler; it never turns a placed order into an error, nor loses the other orders'
results. A call that raises has an outcome nobody knows: UNKNOWN, kept and reconciled.
"""
from __future__ import annotations

import logging
import threading
import contextvars
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from connectors.base_connector import BaseConnector
from connectors.http_client import Deadline
from connectors.orders import STOP_NOT_ADJUSTED, ConnectorResult, OrderRequest, OrderStatus
from database.orders_repository import ConnectorOrderRepository
from database.tables_connector_orders import ORDER_FAILED, ORDER_PENDING, ORDER_UNKNOWN
from safety.signal_age import SIGNAL_TOO_OLD, entry_refusal

log = logging.getLogger(__name__)

REQUEST_DEADLINE = 2.2
"""Seconds all connector calls of one webhook may take together (TradingView waits 3 s)."""


@dataclass
class Submission:
    order: OrderRequest
    connector: BaseConnector
    send: Callable[[OrderRequest, Deadline], ConnectorResult]
    position_id: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    abandoned: bool = False


def not_sent(result: ConnectorResult) -> bool:
    """Nothing reached the firm for this order: what it reserved or claimed can be given back."""
    return result.status == OrderStatus.FAILED or result.reason == SIGNAL_TOO_OLD


def _too_old(sub: Submission) -> ConnectorResult | None:
    """The SKIPPED result of an entry whose signal is now too old to send, else None."""
    verdict = entry_refusal() if sub.order.action == "ENTRY" else None
    if verdict is None:
        return None
    return ConnectorResult(
        firm_code=sub.order.firm_code, program_id=sub.order.program_id, status=OrderStatus.SKIPPED, dry_run=sub.connector.dry_run,
        reason=verdict.reason, message=verdict.message, order=sub.order.to_dict(), extra={"rule": verdict.rule},
    )


def _unknown(sub: Submission, reason: str, what: str) -> ConnectorResult:
    return ConnectorResult(
        firm_code=sub.order.firm_code, program_id=sub.order.program_id, status=OrderStatus.UNKNOWN, dry_run=False,
        reason=reason, order=sub.order.to_dict(),
        message=f"{what}; the order may have been placed. It will be reconciled, not resent.",
    )


def _entry_contract(sub: Submission, result: ConnectorResult) -> tuple[int, str] | None:
    """(position id, firm contract) of an entry order that may have reached the firm."""
    contract = result.extra.get("contract")
    if not contract or sub.position_id is None or sub.order.action != "ENTRY" or result.status == OrderStatus.FAILED:
        return None
    return sub.position_id, contract


def _journal_status(result: ConnectorResult) -> str:
    """The journal row's state, as the plain text its column holds."""
    if result.status == OrderStatus.SKIPPED:  # e.g. ALREADY_FLAT_AT_FIRM on an exit: the goal (flat) holds
        return str(OrderStatus.SUCCESS)
    known = (OrderStatus.SUCCESS, OrderStatus.FAILED, OrderStatus.UNKNOWN)
    return str(result.status) if result.status in known else str(OrderStatus.UNKNOWN)


def _journal_message(result: ConnectorResult) -> str | None:
    """The result's message, plus a stop left too big (APEX, after a partial exit or on a flat
    account): the journal keeps it even for an answer that came after the deadline, which no
    caller sees."""
    adjustment = result.extra.get("stop_adjustment") or {}
    if adjustment.get("status") != STOP_NOT_ADJUSTED:
        return result.message
    return f"{result.message}; {STOP_NOT_ADJUSTED}: {adjustment.get('message')}"


class Dispatcher:
    def __init__(self, journal: ConnectorOrderRepository, budget: float = REQUEST_DEADLINE, max_workers: int = 8):
        """The journal also notes the firm contract each entry order went out for, as soon as its
        connector returns - also after the request's deadline, when nobody waits for the result
        any more - so the exit closes that contract."""
        self.journal = journal
        self.budget = budget
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="connector")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)

    def in_background(self, work: Callable[[], None]) -> None:
        """Run `work` on a connector thread after the request has its answer (firm follow-ups)."""
        self._pool.submit(contextvars.copy_context().run, work)

    def record(self, submissions: list[Submission]) -> list[bool]:
        """Journal every live submission (True: new, False: submitted before) before any is sent.

        All of them first, so that an error here means no order of the batch left: the caller can
        give back what it claimed for them (a journalled row that was never sent is reconciled as
        "not at the firm"). Dry-run submissions are not journalled (True).
        """
        live = [sub for sub in submissions if not sub.connector.dry_run]
        fresh = iter(self.journal.record_submissions([
            {"client_order_id": sub.order.client_order_id, "firm_code": sub.order.firm_code,
             "program_id": sub.order.program_id, "task_id": sub.order.task_id, "trade_id": sub.order.trade_id,
             "action": sub.order.action, "contracts": sub.order.contracts, "position_id": sub.position_id,
             "request": sub.order.to_dict()}
            for sub in live
        ]) if live else [])
        return [sub.connector.dry_run or next(fresh) for sub in submissions]

    def run(self, submissions: list[Submission], recorded: list[bool] | None = None) -> list[ConnectorResult]:
        """Send the batch in parallel inside one deadline; `recorded` is `record(submissions)` when
        the caller journalled them already."""
        fresh_flags = recorded if recorded is not None else self.record(submissions)
        deadline = Deadline(self.budget)
        results: list[ConnectorResult | None] = [None] * len(submissions)
        futures: dict[int, Future[ConnectorResult]] = {}
        for i, (sub, fresh) in enumerate(zip(submissions, fresh_flags)):
            if sub.connector.dry_run:
                results[i] = _too_old(sub) or sub.send(sub.order, deadline)
                continue
            if not fresh:
                results[i] = ConnectorResult(
                    firm_code=sub.order.firm_code, program_id=sub.order.program_id, status=OrderStatus.SKIPPED, dry_run=False,
                    reason="ALREADY_SUBMITTED", order=sub.order.to_dict(),
                    message=f"Order {sub.order.client_order_id} was submitted before; not sent again.",
                )
                continue
            # A copy of the request's context per call, so connector log lines name the task.
            futures[i] = self._pool.submit(contextvars.copy_context().run, self._call, sub, deadline)
        if futures:
            wait(list(futures.values()), timeout=deadline.remaining() + 0.05)
        for i, future in futures.items():
            sub = submissions[i]
            with sub.lock:
                if future.done():
                    results[i] = self._outcome(sub, future)
                    continue
                sub.abandoned = True
                self._set_outcome(sub, ORDER_UNKNOWN, reason="DEADLINE_EXCEEDED",
                                  message="no answer within the request deadline", only_if=(ORDER_PENDING,))
            log.warning("%s %s still running at the deadline: UNKNOWN", sub.order.firm_code, sub.order.client_order_id)
            results[i] = _unknown(sub, "DEADLINE_EXCEEDED", "No answer in time")
        return [r for r in results if r is not None]

    def _outcome(self, sub: Submission, future: Future[ConnectorResult]) -> ConnectorResult:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - the order may be out: keep it, the reconciler decides
            log.exception("%s %s: the call raised; UNKNOWN", sub.order.firm_code, sub.order.client_order_id)
            return _unknown(sub, "CONNECTOR_ERROR", "The connector failed while sending")

    def _set_outcome(self, sub: Submission, status: str, *, reason: str | None, message: str | None,
                     only_if: tuple[str, ...], firm_order_id: str | None = None,
                     position_contract: tuple[int, str] | None = None) -> None:
        """Journal an outcome (and an entry's contract); a failed write leaves the row for the
        reconciler (module docstring)."""
        try:
            self.journal.set_outcome(sub.order.client_order_id, status, reason=reason, message=message,
                                     firm_order_id=firm_order_id, only_if=only_if, position_contract=position_contract)
        except Exception:  # noqa: BLE001 - the order's outcome stands; only its journal entry lags
            log.exception("could not journal %s for %s %s; the reconciler will settle it",
                          status, sub.order.firm_code, sub.order.client_order_id)

    def _call(self, sub: Submission, deadline: Deadline) -> ConnectorResult:
        refused = _too_old(sub)
        if refused is not None:  # journalled, never sent: the row says so, and why
            self._set_outcome(sub, ORDER_FAILED, reason=refused.reason, message=refused.message,
                              only_if=(ORDER_PENDING,))
            return refused
        result = sub.send(sub.order, deadline)
        status = _journal_status(result)
        contract = _entry_contract(sub, result)
        with sub.lock:
            if sub.abandoned and status != OrderStatus.SUCCESS:
                if contract is not None:  # late failure: stays UNKNOWN until reconciled (the position was kept)
                    self._record_contract(*contract)
                return result
            self._set_outcome(sub, status, reason=result.reason, firm_order_id=result.order_id or None,
                              message=_journal_message(result), only_if=(ORDER_PENDING, ORDER_UNKNOWN),
                              position_contract=contract)
        return result

    def _record_contract(self, position_id: int, contract: str) -> None:
        try:
            self.journal.record_contract(position_id, contract)
        except Exception:  # the order is out: a failed note must not turn it into an error
            log.exception("could not record contract %s for position %s", contract, position_id)
