"""The TradersPost webhook format, accepted as a compatibility format.

Field names and values as TradersPost documents them
(https://docs.traderspost.io/docs/core-concepts/webhooks, stop losses:
https://traderspost.io/reference/strategy-field/stop-loss-type, take profits:
https://traderspost.io/reference/strategy-field/allow-signal-take-profit, order behaviour:
https://docs.traderspost.io/docs/learn/order-behavior):

- `ticker`, `action` buy / sell / exit / cancel / add, `sentiment` bullish / long / bearish /
  short / flat, `quantity`, `price` (or `signalPrice`, or `limitPrice`), `time`;
- `stopLoss` {`type` stop / stop_limit / trailing_stop, `stopPrice`, `limitPrice`, `amount`,
  `percent`}: a price, or a distance from the entry price in points (`amount`) or percent;
- `takeProfit` {`limitPrice`, `amount`, `percent`}: read into `take_profit` (a price) and kept.

As TradersPost does, `buy` while short (or `sell` while long) reverses, and `exit` or
`sentiment: flat` closes the whole position. `cancel` (resting orders) and `add` (pyramiding)
have no counterpart here: they are refused, naming `action`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from signals.dialects import (ENTRY_EVENT, Alert, _close_fields, _common, _known, choice, number, opposite,
                              symbol_root)
from signals.signal_model import SignalError

ACTIONS = {"buy": "LONG", "sell": "SHORT", "exit": "EXIT", "cancel": "CANCEL", "add": "ADD"}
SENTIMENTS = {"bullish": "LONG", "long": "LONG", "bearish": "SHORT", "short": "SHORT", "flat": "FLAT"}
STOP_TYPES = ("stop", "stop_limit", "trailing_stop")


def traderspost_alert(data: dict[str, Any]) -> Alert:
    problems: dict[str, str] = {}
    action = choice(data, "action", ACTIONS, problems)
    sentiment = choice(data, "sentiment", SENTIMENTS, problems) if data.get("sentiment") not in (None, "") else None
    root = symbol_root(data, "ticker", problems)
    if action in ("CANCEL", "ADD"):
        problems["action"] = (f"{data['action']!r} is not supported here (no resting orders, no adding to a "
                              "position); send buy, sell or exit")
    if problems:
        raise SignalError(problems)
    common = _common(data, "traderspost", root)
    price = _entry_price(data, problems)
    if action == "EXIT" or sentiment == "FLAT":  # `exit` closes either side; sell + flat a long
        closes = None if action == "EXIT" else opposite(action)
        return Alert(intent="CLOSE", fields=_close_fields(data, price), side=closes, **common)
    if sentiment is not None and sentiment != action:
        raise SignalError({"sentiment": f"{data['sentiment']!r} contradicts action {data['action']!r}; "
                                        "send flat to close, or leave sentiment out"})
    stop = _stop_price(data.get("stopLoss"), action, price, problems)
    target = _target_price(data.get("takeProfit"), action, price, problems)
    if problems:
        raise SignalError(problems)
    fields = {"event_type": ENTRY_EVENT, "symbol": data.get("ticker"), "direction": action,
              "entry_price": price, "stop_loss": stop, "contracts": data.get("quantity"), "take_profit": target}
    return Alert(intent="OPEN", fields=_known(fields, data), side=action, **common)


def _entry_price(data: dict[str, Any], problems: dict[str, str]) -> Decimal | None:
    for name in ("price", "signalPrice", "limitPrice"):
        value = number(data, name, problems)
        if value is not None:
            return value
    return None


def _stop_price(stop: Any, side: str, price: Decimal | None, problems: dict[str, str]) -> Decimal | None:
    """`stopLoss.stopPrice`, else `amount` points / `percent` away from the entry price."""
    if isinstance(stop, dict) and stop.get("type", "stop") not in STOP_TYPES:
        problems["stopLoss.type"] = f"must be one of {', '.join(STOP_TYPES)}"
    return _leg_price(stop, "stopLoss", "stopPrice", -1 if side == "LONG" else 1, price, problems)


def _target_price(target: Any, side: str, price: Decimal | None, problems: dict[str, str]) -> Decimal | None:
    """`takeProfit.limitPrice`, else `amount` points / `percent` away from the entry price."""
    return _leg_price(target, "takeProfit", "limitPrice", 1 if side == "LONG" else -1, price, problems)


def _leg_price(leg: Any, name: str, price_key: str, sign: int, price: Decimal | None,
               problems: dict[str, str]) -> Decimal | None:
    if leg is None:
        return None
    if not isinstance(leg, dict):
        problems[name] = f"must be an object with {price_key}, amount or percent"
        return None
    direct = number(leg, price_key, problems, f"{name}.")
    if direct is not None:
        return direct
    return _offset(leg, name, sign, price, problems)


def _offset(leg: dict[str, Any], name: str, sign: int, price: Decimal | None,
            problems: dict[str, str]) -> Decimal | None:
    amount = number(leg, "amount", problems, f"{name}.")
    percent = number(leg, "percent", problems, f"{name}.")
    if amount is None and percent is None:
        return None
    if price is None:
        problems[name] = "amount / percent are measured from the entry price: send price"
        return None
    distance = amount if amount is not None else price * percent / 100  # type: ignore[operator]
    return price + sign * distance
