"""The one abstract connector every firm protocol implements.

The public methods are templates: they own the dry-run decision (so no subclass can forget it)
and turn errors into results: NotSent/Rejected -> FAILED, OutcomeUnknown -> UNKNOWN (sent, answer
lost: reconcile, never resend), any other exception -> FAILED. Subclasses implement only
`_place_entry`, `_place_exit`, `_account_status`, for reconciliation `_find_order`, and for the
loss checks `_account_snapshot`.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from account_engine.snapshots import AccountSnapshot
from config.settings import FirmSettings
from connectors.http_client import Deadline, NotSent, OutcomeUnknown, Rejected
from connectors.orders import ConnectorResult, OrderRequest, OrderStatus

log = logging.getLogger(__name__)

GLOBAL_DRY_RUN = "GLOBAL_DRY_RUN_ENABLED"
FIRM_DRY_RUN = "FIRM_DRY_RUN_ENABLED"
DEFAULT_BUDGET = 2.2
"""Seconds one connector call may take when no request deadline is given."""


@dataclass(frozen=True)
class OrderLookup:
    """What the firm says about one of our submissions: found True/False, or None (cannot tell).
    `refused`: found, but the firm rejected or cancelled it unfilled - a failed order, nothing held."""

    found: bool | None
    firm_order_id: str | None = None
    detail: str = ""
    refused: bool = False


class BaseConnector(ABC):
    firm_code: ClassVar[str]
    live_supported: ClassVar[bool] = False
    """False until the firm's real protocol is implemented: live mode then refuses to start."""

    def __init__(self, firm: FirmSettings, *, dry_run: bool):
        self.firm = firm
        self.dry_run = dry_run
        self.dry_run_reason = FIRM_DRY_RUN if firm.dry_run_source != "EXECUTION_DRY_RUN" else GLOBAL_DRY_RUN
        self._contracts_used: dict[str, str] = {}  # client order id -> the firm contract it was for

    def _trading(self, order: OrderRequest, contract: str) -> None:
        """Note the firm's contract `order` goes out for, before it is sent: its result carries it
        (`contract`) whatever the outcome, and the router records an entry's for its exit."""
        self._contracts_used[order.client_order_id] = contract

    def send_entry_order(self, order: OrderRequest, deadline: Deadline | None = None) -> ConnectorResult:
        return self._send(order, self._place_entry, deadline)

    def send_exit_order(self, order: OrderRequest, deadline: Deadline | None = None) -> ConnectorResult:
        return self._send(order, self._place_exit, deadline)

    def get_account_status(self) -> dict[str, Any]:
        if self.dry_run:
            return {"firm_code": self.firm_code, "available": False, "reason": self.dry_run_reason}
        return self._account_status()

    def account_snapshot(self, program_id: int, deadline: Deadline | None = None) -> AccountSnapshot:
        """The firm's own balance, equity and open P&L of one program's account, read now (live
        only). Raises on anything it cannot vouch for: the caller's snapshot policy decides."""
        if self.dry_run:
            raise RuntimeError(f"{self.firm_code} is in dry-run: no account to read")
        return self._account_snapshot(program_id, deadline or Deadline(DEFAULT_BUDGET))

    def _account_snapshot(self, program_id: int, deadline: Deadline) -> AccountSnapshot:
        raise NotImplementedError(f"{self.firm_code} has no documented account read")

    def find_order(self, order: OrderRequest, deadline: Deadline | None = None) -> OrderLookup:
        """Ask the firm whether `order` (by its client order id) reached it; never raises."""
        try:
            return self._find_order(order, deadline or Deadline(DEFAULT_BUDGET))
        except Exception as exc:  # a failed lookup means "cannot tell", never "not there"
            log.warning("lookup of %s at %s failed: %s", order.client_order_id, self.firm_code, type(exc).__name__)
            return OrderLookup(None, detail=f"lookup failed: {type(exc).__name__}")

    def after_exit_found(self, order: OrderRequest) -> str | None:
        """Reconciliation found `order`, an exit whose answer was lost: bring what rests at the firm
        in line with it, as the exit's own request would have (APEX: cut the bracket stop). A note
        for the journal, or None. Never raises."""
        return None

    def close(self) -> None:
        """Release pooled connections (subclasses with sessions override)."""

    def _send(self, order: OrderRequest, place: Callable[[OrderRequest, Deadline], ConnectorResult],
              deadline: Deadline | None) -> ConnectorResult:
        if self.dry_run:
            return ConnectorResult(
                firm_code=self.firm_code, program_id=order.program_id, status=OrderStatus.SKIPPED, dry_run=True,
                reason=self.dry_run_reason, message="Dry-run: order not sent.", order=order.to_dict(),
            )
        try:
            return place(order, deadline or Deadline(DEFAULT_BUDGET))
        except OutcomeUnknown as exc:
            log.warning("%s %s outcome unknown (%s); will reconcile", self.firm_code, order.client_order_id, exc.reason)
            return self._result(order, OrderStatus.UNKNOWN, exc.reason, exc.message)
        except (NotSent, Rejected) as exc:
            log.warning("%s %s failed: %s", self.firm_code, order.client_order_id, exc.reason)
            return self._result(order, OrderStatus.FAILED, exc.reason, exc.message)
        except Exception as exc:  # a connector bug must not crash the request or hide the order
            log.exception("connector %s raised", self.firm_code)
            return self._result(order, OrderStatus.FAILED, "CONNECTOR_ERROR", type(exc).__name__)

    def _result(self, order: OrderRequest, status: OrderStatus, reason: str | None, message: str | None,
                order_id: str | None = None, **extra: Any) -> ConnectorResult:
        contract = self._contracts_used.pop(order.client_order_id, None)
        if contract is not None:
            extra["contract"] = contract
        return ConnectorResult(
            firm_code=self.firm_code, program_id=order.program_id, status=status, dry_run=False,
            reason=reason, message=message, order_id=order_id, order=order.to_dict(), extra=extra,
        )

    def _exit_size(self, order: OrderRequest, net: int) -> int | ConnectorResult:
        """How many contracts an exit may close given the firm's signed net position for the
        account and contract (APEX, TOPSTEP: they close by account and contract, not by trade),
        or the SKIPPED result when there is nothing of this trade's side to close.

        A firm position on the other side (the trade was stopped out and the account reversed,
        or another trade or the trader holds it) must not be "closed" by this exit: the order
        would add to that position. Either way this trade's side is flat at the firm.
        """
        held = order.held_at_firm(net)
        if net == 0:
            return self._result(order, OrderStatus.SKIPPED, "ALREADY_FLAT_AT_FIRM", f"No open {self.firm_code} position; nothing to close.")
        if held < 0:
            other = "SHORT" if net < 0 else "LONG"
            return self._result(order, OrderStatus.SKIPPED, "OPPOSITE_POSITION_AT_FIRM",
                                f"{self.firm_code} holds {abs(net)} {order.symbol} {other}, the other side of this "
                                f"{order.direction} trade: an exit order would add to it, so nothing was sent. "
                                f"This trade's side is flat at the firm; close the {other} position by hand if it is not yours.")
        return min(order.contracts, held)

    @abstractmethod
    def _place_entry(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult: ...

    @abstractmethod
    def _place_exit(self, order: OrderRequest, deadline: Deadline) -> ConnectorResult: ...

    @abstractmethod
    def _account_status(self) -> dict[str, Any]: ...

    def _find_order(self, order: OrderRequest, deadline: Deadline) -> OrderLookup:
        return OrderLookup(None, detail="this connector cannot look orders up")
