"""ProjectX Gateway answers parsed into small typed records at the connector edge, and the
request pieces whose shape the documentation (or the live gateway) fixes.

Enums: https://gateway.docs.projectx.com/docs/realtime/ ("Enum Definitions"):
OrderSide Bid = 0 / Ask = 1; OrderType Limit = 1, Market = 2, StopLimit = 3, Stop = 4,
TrailingStop = 5; OrderStatus None = 0, Open = 1, Filled = 2, Cancelled = 3, Expired = 4,
Rejected = 5, Pending = 6; PositionType Long = 1, Short = 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

BID, ASK = 0, 1
LIMIT, MARKET, STOP_LIMIT, STOP, TRAILING_STOP = 1, 2, 3, 4, 5
OPEN, FILLED, CANCELLED, EXPIRED, REJECTED, PENDING = 1, 2, 3, 4, 5, 6
POSITION_SIGN = {1: 1, 2: -1}

STOP_LEGS = (STOP, STOP_LIMIT, TRAILING_STOP)
TARGET_LEGS = (LIMIT,)

POSITION_BRACKETS_TEXT = "brackets cannot be used with position brackets"
"""The refusal of bracket objects on an account in Position Brackets mode, errorCode 2:
"Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets."
(https://gateway.docs.projectx.com/docs/api-reference/order/order-place, bracket-mode paragraph of
the newer page revision). No API field tells the mode; this message is the only sign."""
CONTRACT_GONE_CODES = (8, 9)
"""Place-order errorCode 8 ContractNotFound, 9 ContractNotActive ("The contract is not the
currently active contract"; PlaceOrderErrorCode, same page): the cached front contract rolled."""


@dataclass(frozen=True)
class Envelope:
    """Every answer: HTTP 200 with {success, errorCode, errorMessage}; `success: false` is a refusal
    (https://gateway.docs.projectx.com/docs/getting-started/authenticate/authenticate-api-key:
    "A failed login still returns HTTP 200")."""

    success: bool
    error_code: int | None
    error_message: str | None
    order_id: str | None

    @classmethod
    def from_api(cls, data: Any) -> "Envelope":
        data = data if isinstance(data, dict) else {}
        code = data.get("errorCode")
        return cls(success=data.get("success") is True, error_code=int(code) if isinstance(code, int) else None,
                   error_message=str(data["errorMessage"]) if data.get("errorMessage") is not None else None,
                   order_id=str(data["orderId"]) if data.get("orderId") is not None else None)

    @property
    def position_brackets(self) -> bool:
        return self.error_code == 2 and POSITION_BRACKETS_TEXT in (self.error_message or "").lower()


@dataclass(frozen=True)
class PxOrder:
    """OrderModel of /api/Order/search and /api/Order/searchOpen
    (https://gateway.docs.projectx.com/docs/api-reference/order/order-search). `fill_volume` is
    None when the answer has no `fillVolume` (the 2025-07 page revision lists none)."""

    id: str
    account_id: int | None
    contract_id: str
    status: int | None
    type: int | None
    side: int | None
    size: int
    limit_price: float | None
    stop_price: float | None
    trail_price: float | None
    fill_volume: int | None
    custom_tag: str | None

    @classmethod
    def from_api(cls, o: dict[str, Any]) -> "PxOrder":
        return cls(id=str(o.get("id")), account_id=o.get("accountId"), contract_id=str(o.get("contractId") or ""),
                   status=o.get("status"), type=o.get("type"), side=o.get("side"), size=int(o.get("size") or 0),
                   limit_price=o.get("limitPrice"), stop_price=o.get("stopPrice"), trail_price=o.get("trailPrice"),
                   fill_volume=int(o["fillVolume"]) if o.get("fillVolume") is not None else None,
                   custom_tag=o.get("customTag"))

    @property
    def refused_unfilled(self) -> bool | None:
        """True: rejected, or cancelled/expired with nothing filled - nothing is held for it.
        None: cancelled/expired and the answer does not say how much filled."""
        if self.status == REJECTED:
            return True
        if self.status in (CANCELLED, EXPIRED):
            return None if self.fill_volume is None else self.fill_volume == 0
        return False


@dataclass(frozen=True)
class PxPosition:
    """Position of /api/Position/searchOpen: `type` 1 long / 2 short, `size` unsigned
    (https://gateway.docs.projectx.com/docs/api-reference/positions/search-open-positions)."""

    contract_id: str
    type: int | None
    size: int

    @classmethod
    def from_api(cls, p: dict[str, Any]) -> "PxPosition":
        return cls(contract_id=str(p.get("contractId") or ""), type=p.get("type"), size=int(p.get("size") or 0))


@dataclass(frozen=True)
class PxContract:
    """Contract of /api/Contract/available: id like CON.F.US.ENQ.H25, `tickSize`, `activeContract`
    (https://gateway.docs.projectx.com/docs/api-reference/market-data/search-contracts)."""

    id: str
    tick_size: Decimal
    active: bool

    @classmethod
    def from_api(cls, c: dict[str, Any]) -> "PxContract":
        return cls(id=str(c.get("id") or ""), tick_size=Decimal(str(c.get("tickSize") or "0")),
                   active=c.get("activeContract", True) is not False)

    @property
    def product(self) -> str:
        parts = self.id.split(".")
        return parts[3] if len(parts) >= 4 else ""


def bracket_ticks(side: int, leg: str, ticks: int) -> int:
    """The signed tick offset of a bracket leg for an entry on `side`.

    The order-place page does not state a sign and its own example sends unsigned ticks
    (https://gateway.docs.projectx.com/docs/api-reference/order/order-place/), but the live gateway
    refuses a long's positive stop: errorCode 2 "Invalid stop loss ticks (40). Ticks should be less
    than zero when longing." (observed by public clients; docs.rs projectx-client `Bracket`: "A long
    stop loss requires a negative count"). Offsets are signed from the entry price: a long's stop
    lies below (negative) and its target above (positive); a short's the other way round.
    """
    below = (side == BID) == (leg == "stop")
    return -abs(ticks) if below else abs(ticks)


def closing_side(position_side: int) -> int:
    """The side that closes a position opened on `position_side`."""
    return ASK if position_side == BID else BID
