"""Sending: reserve (entries) or claim (exits) each account's part, journal the live orders, send
them in one deadline, and give back what a firm refused.

The durable-write order is what keeps a crash safe: a reservation or claim, then the journal row,
and only then may its order leave; an order the firm refused gives its reservation or claim back.
If anything fails before the batch is journalled (so before any of it is sent), everything the
batch reserved or claimed is given back: a claim left behind would say "flat" while the firm still
holds the position, a reservation would hold capacity for an order never sent. In dry-run the
caller's unit of work rolls everything back itself.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime
from typing import Callable, Iterable, Mapping

from config import RuleBook
from connectors import FAILED, BaseConnector, ConnectorResult, OrderRequest
from connectors.dispatch import Dispatcher, Submission, not_sent
from connectors.registry import no_connector_message
from database import EntryRateLimitError, ExecutionRepository, PositionLimitError, PositionRecord
from database.ledger_repository import ClosedContracts
from database.unit_of_work import Connections
from database.orders_repository import ConnectorOrderRepository
from database.position_repository import Reservation, Reserved
from routing.exit_plan import SIMULATED_POSITION, ExitStep
from routing.results import AccountClose, skipped
from safety.guard import SafetyGuard, rate_limited

log = logging.getLogger(__name__)


class OrderDesk:
    """The only place orders leave the service (through `connectors.dispatch.Dispatcher`)."""

    def __init__(self, rules: RuleBook, repository: ExecutionRepository,
                 connectors: Mapping[str, BaseConnector], guard: SafetyGuard) -> None:
        """`repository`: each call its own transaction (what the connector threads record)."""
        self.rules = rules
        self.repository = repository
        self.connectors = connectors
        self.guard = guard
        self._dispatcher: Dispatcher | None = None
        self._lock = threading.Lock()

    @property
    def dispatcher(self) -> Dispatcher:
        with self._lock:  # gunicorn threads: one pool per desk, not one per first request
            if self._dispatcher is None:
                self._dispatcher = Dispatcher(ConnectorOrderRepository(self.repository.engine))
            return self._dispatcher

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.shutdown()

    # -- entries ----------------------------------------------------------------------------------
    def send_entries(self, db: Connections, orders: Iterable[OrderRequest]
                     ) -> tuple[tuple[ConnectorResult, ...], tuple[dict, ...]]:
        """Reserve each order's position (in `db`), then send; a refused order releases its
        reservation. Returns the connector results (in order) and the safety checks a
        reservation added."""
        orders = list(orders)
        claims: list[Reserved] = []  # committed together (live): all given back if the batch fails unsent
        reserved: list[tuple[OrderRequest, PositionRecord]] = []
        decided: list[ConnectorResult | None] = []  # None: the slot of a reserved order
        checks: list[dict] = []
        with self._given_back_if_unsent(lambda: [db.tasks.release_position(c.id) for c in claims
                                                 if isinstance(c, PositionRecord)]):
            claims.extend(self._reserve(db, [o for o in orders if o.firm_code in self.connectors]))
            routed = iter(claims)
            for order in orders:
                outcome = self._decided(order, next(routed)) if order.firm_code in self.connectors else (
                    skipped(order, "NO_CONNECTOR", no_connector_message(order.firm_code)), None)
                if isinstance(outcome, PositionRecord):
                    reserved.append((order, outcome))
                    decided.append(None)
                    continue
                result, check = outcome
                decided.append(result)
                if check is not None:
                    checks.append(check)
            batch = self._journal([(o, self.connectors[o.firm_code].send_entry_order, p.id) for o, p in reserved])
        sent = self.dispatcher.run(*batch)
        for (_, position), outcome in zip(reserved, sent):
            if not_sent(outcome):  # refused by the firm, or too old to send (SIGNAL_TOO_OLD)
                db.tasks.release_position(position.id)
        return _in_order(decided, sent), tuple(checks)

    def _reserve(self, db: Connections, orders: list[OrderRequest]) -> list[Reserved]:
        """Claim the routed orders' positions in one transaction, which re-checks
        max_position_size and MAX_ORDERS_PER_MINUTE under each firm's database lock."""
        if not orders:
            return []
        return db.tasks.reserve_positions([
            Reservation(
                trade_id=o.trade_id, firm_code=o.firm_code, program_id=o.program_id, symbol=o.symbol,
                side=o.direction, contracts=o.contracts, entry_price=o.entry_price, stop_price=o.stop_loss,
                task_id=o.task_id, client_order_id=o.client_order_id, dry_run=self.connectors[o.firm_code].dry_run,
                firm_position_limit=self.rules.risk(o.firm_code).max_position_size,
                rate_cap=self.guard.entry_rate_cap(o.firm_code),
            )
            for o in orders
        ])

    @staticmethod
    def _decided(order: OrderRequest, claim: Reserved) -> PositionRecord | tuple[ConnectorResult, dict | None]:
        """The order's position, or the result of its refused claim."""
        if isinstance(claim, PositionLimitError):
            return skipped(order, "POSITION_LIMIT_REACHED", f"{claim}; a simultaneous entry took the capacity first."), None
        if isinstance(claim, EntryRateLimitError):
            return rate_limited(order, claim.recent, claim.limit)
        if claim is None:
            return skipped(order, "TRADE_ALREADY_OPENED",
                           f"Trade {order.trade_id} already opened at {order.firm_code} program {order.program_id}."), None
        return claim

    # -- exits ------------------------------------------------------------------------------------
    def send_exits(self, db: Connections, steps: Iterable[ExitStep], *, actor: str, now: datetime
                   ) -> tuple[tuple[ConnectorResult, ...], tuple[AccountClose, ...]]:
        """Claim each step's contracts with their P&L row (in `db`), then send; a refused exit
        gives them back.
        Returns the connector results (in order) and the closes (sent ones first, then local ones)."""
        claimed: list[tuple[ExitStep, OrderRequest, ClosedContracts, AccountClose]] = []
        local: list[AccountClose] = []
        decided: list[ConnectorResult | None] = []
        with self._given_back_if_unsent(lambda: [self._reopen(db, s.position, c, actor, "exit failed before it was sent")
                                                 for s, _, c, _ in claimed]):
            for step in steps:
                if step.refusal is not None:
                    decided.append(skipped(step.order, *step.refusal))
                    continue
                closed = self._claim(db, step, actor, now)
                if closed.contracts <= 0:  # a concurrent exit closed it first
                    decided.append(skipped(step.order, "ALREADY_CLOSED", "Position was closed by another exit."))
                    continue
                order = step.order if closed.contracts == step.order.contracts else replace(
                    step.order, contracts=closed.contracts)
                close = AccountClose(step.position, closed.contracts, step.exit_price, step.price_source,
                                     step.point_value, closed.amount, requested_contracts=step.requested_contracts)
                if step.local_only:  # a simulated position: nothing to close at the firm
                    local.append(replace(close, sent=False))
                    decided.append(skipped(order, SIMULATED_POSITION,
                                           f"Opened in dry-run before {order.firm_code} went live: closed here "
                                           "(simulated P&L), no order sent to the firm."))
                    continue
                claimed.append((step, order, closed, close))
                decided.append(None)
            batch = self._journal([(o, self.connectors[o.firm_code].send_exit_order, s.position.id)
                                   for s, o, _, _ in claimed])
        sent = self.dispatcher.run(*batch)
        closes = []
        for (step, _, closed, close), outcome in zip(claimed, sent):
            if outcome.status == FAILED:  # nothing was closed at the firm: keep the position open
                self._reopen(db, step.position, closed, actor, "exit order FAILED at the firm")
                close = replace(close, reversed=True)
            closes.append(close)
        return _in_order(decided, sent), tuple(closes + local)

    def _claim(self, db: Connections, step: ExitStep, actor: str, now: datetime) -> ClosedContracts:
        """Take the contracts off and write their P&L row, in one transaction."""
        return db.ledger.close_position(
            position_id=step.position.id, contracts=step.order.contracts, amount_for=step.pl_for,
            exit_price=step.exit_price, price_source=step.price_source, occurred_at=now,
            task_id=step.order.task_id, actor=actor,
        )

    def _reopen(self, db: Connections, position: PositionRecord, closed: ClosedContracts, actor: str,
                reason: str) -> None:
        """Give an exit's claimed contracts back and reverse their P&L row (the firm closed nothing)."""
        assert closed.event_id is not None
        db.ledger.reopen_position(position_id=position.id, contracts=closed.contracts,
                                    close_event_id=closed.event_id, actor=actor, reason=reason)

    # -- shared -----------------------------------------------------------------------------------
    def _journal(self, calls: list[tuple[OrderRequest, Callable[..., ConnectorResult], int]]
                 ) -> tuple[list[Submission], list[bool]]:
        """Journal the live orders of a batch: after this returns, and only then, may any be sent."""
        submissions = [Submission(order=o, connector=self.connectors[o.firm_code], send=call, position_id=pid)
                       for o, call, pid in calls]
        return submissions, self.dispatcher.record(submissions)

    def _given_back_if_unsent(self, give_back: Callable[[], object]) -> "_GiveBack":
        return _GiveBack(give_back, live=not all(c.dry_run for c in self.connectors.values()))


class _GiveBack:
    """On an error before the batch is journalled, give back what was reserved or claimed (live
    only: a dry-run signal's unit of work rolls it back), then let the error through."""

    def __init__(self, give_back: Callable[[], object], live: bool) -> None:
        self.give_back, self.live = give_back, live

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and self.live:
            try:
                self.give_back()
            except Exception:  # noqa: BLE001 - the original error is the one to report
                log.exception("could not give back what was reserved/claimed before the failure")
        return False


def _in_order(decided: list[ConnectorResult | None], sent: list[ConnectorResult]) -> tuple[ConnectorResult, ...]:
    """The decided results with each None slot filled by the next sent order's result."""
    it = iter(sent)
    return tuple(r if r is not None else next(it) for r in decided)
