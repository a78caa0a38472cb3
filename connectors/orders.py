"""Order requests and connector results: the data that crosses the connector seam."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    """One firm/program's order outcome; a member equals its text, so stored results do not change."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"  # sent, but the firm's answer never arrived: reconcile, never resend blindly


SUCCESS = OrderStatus.SUCCESS
FAILED = OrderStatus.FAILED
SKIPPED = OrderStatus.SKIPPED
UNKNOWN = OrderStatus.UNKNOWN
STOP_NOT_ADJUSTED = "STOP_NOT_ADJUSTED"  # an exit's `stop_adjustment` (APEX, TOPSTEP): a leg at the firm may exceed what is held
PRICE_FIELDS = ("entry_price", "stop_loss", "take_profit")
"""OrderRequest's prices: Decimals in, floats in the stored and shown order."""


class BracketLeg(StrEnum):
    """The resting legs of an entry's bracket at the firm, as a `stop_adjustment` names them."""

    STOP = "STOP"
    TARGET = "TARGET"


def client_order_id(task_id: int, firm_code: str, program_id: int, action: str) -> str:
    """Deterministic id for one order: the same task/firm/program/action always gives the same id,
    so a retried or replayed submission is recognisable at the firm (and in our tables)."""
    digest = hashlib.sha256(f"{task_id}:{firm_code}:{program_id}:{action}".encode()).hexdigest()[:12]
    return f"ER-{task_id}-{firm_code[:4]}{program_id}-{action[0]}-{digest}"


@dataclass(frozen=True)
class OrderRequest:
    """What the router asks one firm/program to do. `side` is BUY/SELL for this order."""

    action: str  # ENTRY or EXIT
    firm_code: str
    program_id: int
    trade_id: str
    task_id: int
    symbol: str  # futures root, e.g. NQ
    direction: str  # LONG/SHORT of the *position*
    contracts: int
    entry_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None  # an entry's target price: a take-profit leg at the firm
    client_order_id: str = ""
    entry_client_order_id: str = ""  # for an EXIT: the id its entry was sent with (finds the firm's position)
    contract: str = ""  # for an EXIT: the firm's contract its entry traded ("" unknown: the front contract)

    @property
    def side(self) -> str:
        opening = self.action == "ENTRY"
        return "BUY" if (self.direction == "LONG") == opening else "SELL"

    def held_at_firm(self, net: int) -> int:
        """Contracts of a firm's signed net position (long > 0) on this order's position side:
        negative when the firm holds the opposite side, which an exit order would add to."""
        return net if self.direction == "LONG" else -net

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side"] = self.side
        for key in PRICE_FIELDS:
            if data[key] is not None:
                data[key] = float(data[key])
        return data


@dataclass(frozen=True)
class ConnectorResult:
    """One firm/program's outcome, in the guide's connector format plus what was (or would be) sent."""

    firm_code: str
    program_id: int | None
    status: OrderStatus
    dry_run: bool | None  # None: decided before any connector (e.g. duplicate, no connector)
    reason: str | None = None
    order_id: str | None = None
    message: str | None = None
    order: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == OrderStatus.SUCCESS

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "firm_code": self.firm_code,
            "program_id": self.program_id,
            "status": str(self.status),
            "success": self.success,
            "reason": self.reason,
            "order_id": self.order_id,
            "message": self.message,
            "mode": None if self.dry_run is None else "DRY_RUN" if self.dry_run else "LIVE",
            "details": self.order,
        }
        data.update(self.extra)
        return data


def stop_not_adjusted(result: ConnectorResult, left: int, changes: list[dict[str, Any]], why: str,
                      where: str) -> ConnectorResult:
    """`result` with a STOP_NOT_ADJUSTED `stop_adjustment`: the exit went through, but the
    trade's bracket at the firm could not be fitted to the `left` contracts still held; `where`
    names the firm's platform in the message ("at Tradovate", "in TopstepX")."""
    if left:
        message = (f"The bracket stop (and take-profit target, if any) may still be larger than the {left} "
                   f"contract(s) left: adjust it {where}, or its fill opens the other side ({why}).")
    else:
        message = (f"This trade's bracket stop (and take-profit target, if any) may still be working on a flat "
                   f"account: check it {where} and cancel it, or its fill opens a position ({why}).")
    return replace(result, extra={**result.extra, "stop_adjustment": {
        "status": STOP_NOT_ADJUSTED, "position_left": left, "orders": changes, "message": message}})
