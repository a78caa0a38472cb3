"""The price webhook's body (`POST /api/realtime-price`) as typed price updates.

One object `{"symbol": "NQ1!", "price": 16480.25, "time": "2026-12-03T14:30:00Z"}` or a list of
them. The symbol resolves to a futures root exactly as a signal's does (`instruments.resolve_root`),
so a price for `CME_MINI:NQ1!` marks the positions an `NQ1!` signal opened. Every bad field is
reported by name (with its index in a list) before anything is stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from instruments import resolve_root
from signals.signal_model import MAX_PRICE, SignalError

MAX_UPDATES = 100
"""Prices one request may carry (a watchlist alert, not a data feed)."""
FUTURE_TOLERANCE = timedelta(seconds=60)
"""How far ahead of our clock a price time may be (the sender's clock may run a little fast)."""


@dataclass(frozen=True)
class PriceUpdate:
    symbol: str  # as sent
    root: str
    price: Decimal
    time: datetime  # timezone-aware


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not price.is_finite() or not 0 < price < MAX_PRICE:
        raise ValueError(f"must be a price above 0 and below {MAX_PRICE}")
    return price


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("required: an ISO 8601 time with a zone, e.g. 2026-12-03T14:30:00Z (TradingView {{timenow}})")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 time, e.g. 2026-12-03T14:30:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (Z or +hh:mm)")
    return moment


def _one(item: Any, prefix: str) -> PriceUpdate | dict[str, str]:
    if not isinstance(item, dict):
        return {prefix.rstrip(".") or "body": "must be a JSON object"}
    problems: dict[str, str] = {}
    symbol = item.get("symbol")
    root = resolve_root(symbol)
    if not isinstance(symbol, str) or not symbol.strip():
        problems[prefix + "symbol"] = "required: the chart's ticker, e.g. NQ1! (TradingView {{ticker}})"
    elif len(symbol) > 64 or root is None:
        problems[prefix + "symbol"] = (f"unknown instrument {symbol[:64]!r}; use a futures root such as NQ, ES, CL, GC "
                                       "(or NQ1!, NQZ2025)")
    values: dict[str, Any] = {}
    for name, parse in (("price", _price), ("time", _time)):
        if item.get(name) is None and name == "price":
            problems[prefix + name] = "required: the last price (TradingView {{close}})"
            continue
        try:
            values[name] = parse(item.get(name))
        except ValueError as exc:
            problems[prefix + name] = str(exc)
    if problems:
        return problems
    return PriceUpdate(symbol.strip(), root, values["price"], values["time"])


def parse_price_updates(data: Any) -> list[PriceUpdate]:
    """The updates in a decoded body, or SignalError naming every bad field (`1.price` in a list)."""
    items, single = (data, False) if isinstance(data, list) else ([data], True)
    if not items:
        raise SignalError({"body": "an empty list: send one price object or a list of them"})
    if len(items) > MAX_UPDATES:
        raise SignalError({"body": f"at most {MAX_UPDATES} prices per request"})
    updates: list[PriceUpdate] = []
    problems: dict[str, str] = {}
    for index, item in enumerate(items):
        parsed = _one(item, "" if single else f"{index}.")
        if isinstance(parsed, dict):
            problems.update(parsed)
        else:
            updates.append(parsed)
    if problems:
        raise SignalError(problems)
    return updates


def why_ignored(update: PriceUpdate, now: datetime, max_age_seconds: int) -> str | None:
    """Why a price must not become a mark whatever is stored (too old, from the future), or None."""
    age = (now - update.time).total_seconds()
    if age > max_age_seconds:
        return f"stale: {age:.0f} s old, older than PRICE_MAX_AGE_SECONDS ({max_age_seconds} s)"
    if update.time - now > FUTURE_TOLERANCE:
        return f"time is {-age:.0f} s ahead of the server's clock (more than {FUTURE_TOLERANCE.seconds} s)"
    return None
