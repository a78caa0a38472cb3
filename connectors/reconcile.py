"""Resolve submissions whose outcome is unknown by asking the firm about their client order id.

Never by resending: a PENDING/UNKNOWN order is looked up (connector.find_order). Found -> SUCCESS
and the position stays as the router left it; a found exit also gets what its request would have
done next at the firm (`after_exit_found`: APEX cuts the bracket stop to the position left).
Not found -> FAILED, and what the router held for it is given back: an entry's reserved position
is released, an exit's claimed contracts are restored with their booked P&L reversed (so a later
exit closes them, and the account state does not count a close that never happened). "Cannot tell" (firm unreachable) changes nothing.

What needs the trader's hand (an exit not at the firm, a found exit whose stop could not be cut)
also goes to `on_outcome` (the app's notifier), since nobody waits for these answers any more.

Rows younger than `min_age` seconds are skipped: their request may still be in flight in another
worker, and "not found yet" must not release a position whose order is about to land.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from connectors.base_connector import BaseConnector
from connectors.orders import PRICE_FIELDS, STOP_NOT_ADJUSTED, OrderRequest
from database.orders_repository import ConnectorOrderRecord, ConnectorOrderRepository
from database.ledger_repository import LedgerRepository
from database.repository import ExecutionRepository
from database.tables_connector_orders import ORDER_FAILED, ORDER_PENDING, ORDER_SUCCESS, ORDER_UNKNOWN

log = logging.getLogger(__name__)

Outcome = Callable[[dict[str, Any], str, str | None], None]
"""(the order's ids: client_order_id, firm_code, program_id, trade_id, task_id, action; SUCCESS or
FAILED; the note of settling a found exit at the firm)."""

MIN_AGE_SECONDS = 5.0
"""Older than any request's deadline (connectors/dispatch.py), so nothing is still in flight."""


def order_from_record(record: ConnectorOrderRecord) -> OrderRequest:
    names = {f.name for f in fields(OrderRequest)}
    data: dict[str, Any] = {k: v for k, v in record.request.items() if k in names}
    for key in PRICE_FIELDS:
        if data.get(key) is not None:
            data[key] = Decimal(str(data[key]))
    return OrderRequest(**data)


class Reconciler:
    def __init__(self, journal: ConnectorOrderRepository, repository: ExecutionRepository,
                 connectors: dict[str, BaseConnector], min_age: float = MIN_AGE_SECONDS,
                 ledger: LedgerRepository | None = None, settle_firm_state: bool = True,
                 on_outcome: Outcome | None = None):
        """`settle_firm_state=False` inside a request (before a trade's next exit): a found exit's
        `BaseConnector.after_exit_found` is not run there, where it would spend the request's
        time, but kept in `deferred` for `settle_deferred`, which the caller runs afterwards in
        the background - always, since the next exit may send nothing (already flat, blocked,
        refused) and leave the firm as the lost answer left it."""
        self.journal = journal
        self.repository = repository
        self.ledger = ledger if ledger is not None else LedgerRepository(repository.engine)
        self.connectors = connectors
        self.min_age = min_age
        self.settle_firm_state = settle_firm_state
        self.on_outcome = on_outcome
        self.deferred: list[tuple[BaseConnector, ConnectorOrderRecord, str | None, str]] = []

    def reconcile(self, record: ConnectorOrderRecord) -> str:
        """The status after asking the firm (unchanged when it cannot tell)."""
        connector = self.connectors.get(record.firm_code)
        if connector is None or connector.dry_run:
            return record.status
        order = order_from_record(record)
        lookup = connector.find_order(order)
        unresolved = (ORDER_PENDING, ORDER_UNKNOWN)
        if lookup.found is None:
            log.info("reconcile %s: firm cannot tell (%s)", record.client_order_id, lookup.detail)
            return record.status
        if lookup.found and not lookup.refused:
            settle_now = record.action == "EXIT" and self.settle_firm_state
            # what the exit's own request would have done next (idempotent: it reads the firm's state)
            note = connector.after_exit_found(order) if settle_now else None
            if note is not None:
                log.warning("reconcile %s: %s", record.client_order_id, note)
            changed = self.journal.set_outcome(record.client_order_id, ORDER_SUCCESS, reason="RECONCILED_FOUND",
                                               firm_order_id=lookup.firm_order_id, only_if=unresolved,
                                               message=lookup.detail if note is None else f"{lookup.detail}; {note}")
            if changed and record.action == "EXIT" and not settle_now:
                self.deferred.append((connector, record, lookup.firm_order_id, lookup.detail))
            if changed:
                self._tell(record, ORDER_SUCCESS, note)
            return ORDER_SUCCESS
        reason = "RECONCILED_REFUSED" if lookup.found else "RECONCILED_NOT_FOUND"  # either way nothing is held
        changed = self.journal.set_outcome(record.client_order_id, ORDER_FAILED, reason=reason,
                                           message=lookup.detail, only_if=unresolved)
        if changed and record.position_id is not None:
            if record.action == "ENTRY":
                self.repository.release_position(record.position_id)
            else:
                self.ledger.reopen_exit(position_id=record.position_id, task_id=record.task_id,
                                        contracts=record.contracts, actor="reconcile",
                                        reason=f"exit {record.client_order_id} {'refused' if lookup.found else 'not'} at the firm")
        log.warning("reconcile %s: %s at the firm; %s", record.client_order_id,
                    "refused" if lookup.found else "not",
                    "position released" if record.action == "ENTRY" else "claim restored")
        if changed and self.settle_firm_state:  # in a request, that request's own exit closes it now
            self._tell(record, ORDER_FAILED)
        return ORDER_FAILED

    def settle_deferred(self) -> None:
        """Run the found exits' `after_exit_found` that `reconcile` deferred; never raises."""
        while self.deferred:
            connector, record, firm_order_id, detail = self.deferred.pop(0)
            try:
                note = connector.after_exit_found(order_from_record(record))
            except Exception as exc:  # noqa: BLE001 - background work: log it, never lose the others
                log.exception("settling %s at the firm failed", record.client_order_id)
                note = (f"{STOP_NOT_ADJUSTED}: settling the found exit at the firm failed ({type(exc).__name__}); "
                        f"check its stops there")
            if note is None:
                continue
            log.warning("reconcile %s: %s", record.client_order_id, note)
            self._tell(record, ORDER_SUCCESS, note)
            try:
                self.journal.set_outcome(record.client_order_id, ORDER_SUCCESS, reason="RECONCILED_FOUND",
                                         firm_order_id=firm_order_id, message=f"{detail}; {note}",
                                         only_if=(ORDER_SUCCESS,))
            except Exception:  # noqa: BLE001 - the note is in the log and was told; the next item still runs
                log.exception("recording the settling of %s failed", record.client_order_id)

    def _tell(self, record: ConnectorOrderRecord, status: str, note: str | None = None) -> None:
        """`on_outcome`, which must not turn a reconciliation into a failure."""
        if self.on_outcome is None:
            return
        order = {"client_order_id": record.client_order_id, "firm_code": record.firm_code,
                 "program_id": record.program_id, "trade_id": record.trade_id, "task_id": record.task_id,
                 "action": record.action}
        try:
            self.on_outcome(order, status, note)
        except Exception:  # noqa: BLE001 - telling is best effort; the journal has it
            log.exception("reporting the reconciliation of %s failed", record.client_order_id)

    def reconcile_unresolved(self, trade_id: str | None = None) -> list[tuple[str, str]]:
        """(client order id, status) for every unresolved submission old enough to judge."""
        now = datetime.now(timezone.utc)
        done = []
        for record in self.journal.unresolved(trade_id):
            if (now - record.created_at).total_seconds() < self.min_age:
                continue
            done.append((record.client_order_id, self.reconcile(record)))
        return done
