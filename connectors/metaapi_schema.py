"""MetaApi's answers parsed into small typed values at the connector edge, and the stop-loss
and take-profit distances an FTMO entry is sent with. Each rule names the MetaApi documentation it follows."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from connectors.http_client import Rejected
from connectors.orders import OrderRequest

# https://metaapi.cloud/docs/client/models/metatraderTradeResponse/ - numericCode: "Response codes
# which indicate success are 0, 10008-10010, 10025. The rest codes are errors."; stringCode:
# "Response codes which indicate success are ERR_NO_ERROR, TRADE_RETCODE_PLACED, TRADE_RETCODE_DONE,
# TRADE_RETCODE_DONE_PARTIAL, TRADE_RETCODE_NO_CHANGES. The rest codes are errors."
SUCCESS_STRING_CODES = frozenset({"ERR_NO_ERROR", "TRADE_RETCODE_PLACED", "TRADE_RETCODE_DONE",
                                  "TRADE_RETCODE_DONE_PARTIAL", "TRADE_RETCODE_NO_CHANGES"})
SUCCESS_NUMERIC_CODES = frozenset({0, 10008, 10009, 10010, 10025})
# Same page, MT5 error codes: "-11 TRADE_RETCODE_DISCONNECTED_DURING_TRADE The trade request was
# delivered to the trading server, however the server has terminated connection afterwards. This
# means that the result of the trade is not known". "-7 ERR_TRADE_TIMED_OUT Trade timed out" does not
# say whether the broker executed it either, so it is read the same way (fail closed: reconcile).
UNKNOWN_STRING_CODES = frozenset({"TRADE_RETCODE_DISCONNECTED_DURING_TRADE", "ERR_TRADE_TIMED_OUT"})
UNKNOWN_NUMERIC_CODES = frozenset({-11, -7})


class TradeOutcome(StrEnum):
    SUCCESS = "SUCCESS"
    UNKNOWN = "UNKNOWN"
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class TradeAnswer:
    """A MetatraderTradeResponse (https://metaapi.cloud/docs/client/models/metatraderTradeResponse/):
    `orderId` is typed string but the page's own example has a number, so both are read."""

    outcome: TradeOutcome
    code: str
    message: str
    order_id: str | None = None
    position_id: str | None = None

    @classmethod
    def parse(cls, status: int, data: Any) -> "TradeAnswer":
        data = data if isinstance(data, dict) else {}
        string_code = data.get("stringCode")
        numeric_code = data.get("numericCode")
        code = str(string_code) if string_code is not None else (
            str(numeric_code) if numeric_code is not None else f"HTTP_{status}")
        message = str(data.get("message") or data.get("error") or "")
        if not 200 <= status < 300:  # MetaApi's own errors (ValidationError, NotFoundError...) are refusals
            return cls(TradeOutcome.REFUSED, code, message or "refused")
        if string_code is None and numeric_code is None:  # accepted, but what happened cannot be read
            return cls(TradeOutcome.UNKNOWN, "NO_TRADE_CODE", "MetaApi answered without a result code")
        if string_code in UNKNOWN_STRING_CODES or numeric_code in UNKNOWN_NUMERIC_CODES:
            return cls(TradeOutcome.UNKNOWN, code, message)
        # The SDK decides on stringCode alone; the numeric list is used when only numericCode is given.
        success = string_code in SUCCESS_STRING_CODES if string_code is not None else numeric_code in SUCCESS_NUMERIC_CODES
        if not success:
            return cls(TradeOutcome.REFUSED, code, message or "refused")
        return cls(TradeOutcome.SUCCESS, code, message, order_id=_text(data.get("orderId")),
                   position_id=_text(data.get("positionId")))


# https://metaapi.cloud/docs/client/models/metatraderOrder/ - state enum "ORDER_STATE_STARTED,
# ORDER_STATE_PLACED, ORDER_STATE_CANCELED, ORDER_STATE_PARTIAL, ORDER_STATE_FILLED,
# ORDER_STATE_REJECTED, ORDER_STATE_EXPIRED, ..." (CANCELED with one L).
UNFILLED_END_STATES = frozenset({"ORDER_STATE_REJECTED", "ORDER_STATE_CANCELED", "ORDER_STATE_EXPIRED"})


@dataclass(frozen=True)
class HistoryOrder:
    """One MetatraderOrder of the account's history (history-orders/time/..)."""

    id: str
    client_id: str | None
    state: str | None
    volume: Decimal | None
    current_volume: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> "HistoryOrder | None":
        if not isinstance(data, dict) or data.get("id") is None:
            return None
        return cls(id=str(data["id"]), client_id=data.get("clientId"), state=data.get("state"),
                   volume=_decimal(data.get("volume")), current_volume=_decimal(data.get("currentVolume")))

    @property
    def refused_unfilled(self) -> bool:
        """Rejected, cancelled or expired with none of it filled: nothing is held for it. Only when
        the order's own volumes say so (`currentVolume`, the part not filled, equals `volume`):
        an order whose fill cannot be read is not called refused."""
        return (self.state in UNFILLED_END_STATES and self.volume is not None
                and self.current_volume is not None and self.current_volume == self.volume)


@dataclass(frozen=True)
class AccountInformation:
    """https://metaapi.cloud/docs/client/models/metatraderAccountInformation/ (balance, equity
    "account liquidation value", currency)."""

    balance: float | None
    equity: float | None
    currency: str | None

    @classmethod
    def parse(cls, data: Any) -> "AccountInformation":
        data = data if isinstance(data, dict) else {}
        return cls(balance=data.get("balance"), equity=data.get("equity"), currency=data.get("currency"))


# https://metaapi.cloud/docs/client/models/metatraderTrade/ - "stopLossUnits | string | stop loss units.
# ABSOLUTE_PRICE means the that the value of stopLoss field is a final stop loss value. RELATIVE_* means
# that the stopLoss field value contains relative stop loss expressed either in price, points, pips,
# account currency or balance percentage. Default is ABSOLUTE_PRICE."; "takeProfitUnits" says the same
# of `takeProfit`. RELATIVE_PRICE is used for both: the signal's distances are in index points, and the
# future and the cash CFD quote the same index points, while their prices differ by the basis - so a
# futures price is never sent as a CFD price.
# Whether a relative value is signed is NOT documented. The REST trade page gives `stopLoss` and
# `takeProfit` "min: 0" (https://metaapi.cloud/docs/client/restApi/api/trade/) and the trailing stop
# model calls its relative value a "SL distance relative to current price"
# (https://metaapi.cloud/docs/client/models/trailingStopLoss/), so a positive distance is sent: the stop
# expected on the losing side of the fill price, the target on the profit side.
STOP_UNITS = "RELATIVE_PRICE"


@dataclass(frozen=True)
class RelativeLevel:
    """A stop (`stopLoss`) or target (`takeProfit`) sent as a distance from the fill price."""

    field: str
    units: str
    value: float

    def fields(self) -> dict[str, Any]:
        return {self.field: self.value, f"{self.field}Units": self.units}

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units, "value": self.value}


def relative_stop(order: OrderRequest) -> RelativeLevel | None:
    """The entry's stop as a distance from the CFD's own fill price, or None without a stop."""
    return _relative(order, "stopLoss", order.stop_loss, losing=True)


def relative_target(order: OrderRequest) -> RelativeLevel | None:
    """The entry's take-profit target as a distance from the CFD's own fill price, or None."""
    return _relative(order, "takeProfit", order.take_profit, losing=False)


def _relative(order: OrderRequest, field: str, price: Decimal | None, losing: bool) -> RelativeLevel | None:
    """Refused before sending when the distance cannot be taken from the signal."""
    if price is None:
        return None
    what = "stop" if losing else "target"
    if order.entry_price is None:
        raise Rejected(f"NO_{what.upper()}_DISTANCE", f"the signal has a {what} but no entry price: its distance is unknown")
    above = order.direction == ("SHORT" if losing else "LONG")  # where the level must lie
    distance = price - order.entry_price if above else order.entry_price - price
    if distance <= 0:
        raise Rejected(f"{what.upper()}_ON_WRONG_SIDE", f"{what} {price} is not on the {'losing' if losing else 'profit'} "
                                                        f"side of entry {order.entry_price} for a {order.direction}")
    return RelativeLevel(field, STOP_UNITS, float(distance))


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None
