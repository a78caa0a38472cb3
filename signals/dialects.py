"""Alert dialects: the formats traders' alerts already use, read into one `Alert`.

Detection is by explicit keys, in this order, so a body is never guessed at:
1. a `dialect` field: `ours`, `tradingview` or `traderspost`;
2. `event_type` or `trade_id`: this service's own format (docs/tradingview.md), unchanged;
3. `market_position` (TradingView's `{{strategy.market_position}}`): a TradingView strategy alert;
4. `ticker` and `action` with `sentiment` or no position key: the TradersPost webhook format.
A body with keys of two formats (`event_type` with `market_position`, or `market_position` with
`sentiment`) is ambiguous, one with none of them unknown: both are a 400 naming what was expected.

The adapters are pure and only translate: the typed `Signal` still validates every value, and
the trade an alert without `trade_id` belongs to is decided by signals/trade_identity.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from instruments import resolve_root
from signals.signal_model import SignalError
from signals.targets import TARGET_FIELDS

Dialect = Literal["ours", "tradingview", "traderspost"]
DIALECTS: tuple[Dialect, ...] = ("ours", "tradingview", "traderspost")
Intent = Literal["SIGNAL", "OPEN", "CLOSE", "REDUCE"]
"""SIGNAL: our own format, routed as it is; OPEN a side; CLOSE the trade; REDUCE part of it."""

EXPECTED = ("`event_type` (this service's format), `action` + `market_position` (TradingView strategy), "
            "`ticker` + `action` (TradersPost), or `dialect` naming one of ours, tradingview, traderspost")
ENTRY_EVENT = "SIGNAL_CREATED"
CLOSE_EVENT = "EXIT"

_SIDES = {"buy": "LONG", "sell": "SHORT"}
_POSITIONS = {"long": "LONG", "bullish": "LONG", "short": "SHORT", "bearish": "SHORT", "flat": "FLAT"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
MAX_STRATEGY_LENGTH = 64
MAX_STAMP_LENGTH = 96


@dataclass(frozen=True)
class Alert:
    """What an alert asks for, in our field names; `fields` becomes the Signal (plus trade_id).

    `strategy` and `root` identify the trade when the alert carries no trade_id; `stamp` is the
    alert's own identity (its time and order id, sanitised), None when it sent neither."""

    dialect: Dialect
    intent: Intent
    fields: dict[str, Any]
    strategy: str = ""
    root: str = ""
    side: str | None = None  # OPEN: the side to hold; CLOSE / REDUCE: the side it closes (None: either)
    stamp: str | None = None


def read_alert(data: dict[str, Any]) -> Alert:
    """The body (secret already removed) as an Alert, or SignalError naming what is wrong."""
    dialect = detect_dialect(data)
    if dialect == "ours":
        return Alert("ours", "SIGNAL", {k: v for k, v in data.items() if k != "dialect"})
    if dialect == "tradingview":
        return tradingview_alert(data)
    from signals.traderspost import traderspost_alert

    return traderspost_alert(data)


def detect_dialect(data: dict[str, Any]) -> Dialect:
    named = data.get("dialect")
    if named is not None:
        if not isinstance(named, str) or named.strip().lower() not in DIALECTS:
            raise SignalError({"dialect": f"unknown dialect {named!r}; expected one of {', '.join(DIALECTS)}"})
        return named.strip().lower()  # type: ignore[return-value]
    has = {key for key in ("event_type", "trade_id", "market_position", "sentiment", "ticker", "action") if key in data}
    ours = has & {"event_type", "trade_id"}
    if ours and has & {"market_position", "sentiment"}:
        raise SignalError({"body": f"ambiguous: `{min(ours)}` (this service's format) together with "
                                   f"`{'market_position' if 'market_position' in has else 'sentiment'}`; "
                                   "send one format, or name it in `dialect`"})
    if has & {"event_type", "trade_id"}:
        return "ours"
    if {"market_position", "sentiment"} <= has:
        raise SignalError({"body": "ambiguous: `market_position` (TradingView strategy) together with "
                                   "`sentiment` (TradersPost); send one, or name the format in `dialect`"})
    if "market_position" in has:
        return "tradingview"
    if {"ticker", "action"} <= has:
        return "traderspost"
    raise SignalError({"body": f"unknown alert format; expected {EXPECTED}"})


def tradingview_alert(data: dict[str, Any]) -> Alert:
    """A Pine strategy's alert: `{{strategy.order.action}}`, `{{strategy.market_position}}`, ...

    The position after the order decides: flat closes the trade; the side the order bought or
    sold into opens (or reverses to) that side; the other side is a reduction of the open trade,
    by the part the order sold (`contracts` of `contracts + |position_size|`)."""
    problems: dict[str, str] = {}
    action = choice(data, "action", _SIDES, problems)
    position = choice(data, "market_position", _POSITIONS, problems)
    root = symbol_root(data, "ticker", problems)
    if problems:
        raise SignalError(problems)
    common = _common(data, "tradingview", root)
    price = data.get("price")
    if position == "FLAT":
        # a sell that leaves the strategy flat closed a long: never a short opened meanwhile
        return Alert(intent="CLOSE", fields=_close_fields(data, price), side=opposite(action), **common)
    if position == action:
        # the position after the order: a reversal's order also covers the side it closes
        size = number(data, "position_size", problems)
        contracts = abs(size) if size is not None and size != 0 else data.get("contracts")
        if problems:
            raise SignalError(problems)
        fields = {"event_type": ENTRY_EVENT, "symbol": data.get("ticker"), "direction": position,
                  "entry_price": price, "stop_loss": data.get("stop_loss"), "contracts": contracts,
                  **{name: data.get(name) for name in TARGET_FIELDS}}
        return Alert(intent="OPEN", fields=_known(fields, data), side=position, **common)
    fraction = _sold_fraction(data, problems)
    if problems:
        raise SignalError(problems)
    fields = {"event_type": "EXIT_PARTIAL", "exit_fraction": fraction, "exit_price": price}
    return Alert(intent="REDUCE", fields=_known(fields, data), side=position, **common)


def opposite(side: str | None) -> str | None:
    return {"LONG": "SHORT", "SHORT": "LONG"}.get(side or "")


def _sold_fraction(data: dict[str, Any], problems: dict[str, str]) -> Decimal | None:
    sold, left = number(data, "contracts", problems), number(data, "position_size", problems)
    if sold is None or left is None:
        problems.setdefault("position_size", "a reduction (an order against the position held) needs `contracts` "
                                             "and `position_size` ({{strategy.position_size}})")
        return None
    total = sold + abs(left)
    if sold <= 0 or total <= 0:
        problems["contracts"] = "must be above 0 for a reduction"
        return None
    return sold / total


def _close_fields(data: dict[str, Any], price: Any) -> dict[str, Any]:
    return _known({"event_type": CLOSE_EVENT, "exit_price": price}, data)


def _known(fields: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Our fields (None dropped) plus the alert's strategy name, kept for routing and the audit."""
    out = {k: v for k, v in fields.items() if v is not None and v != ""}
    name = data.get("strategy_name", data.get("strategy"))
    if isinstance(name, str) and name.strip():
        out["strategy_name"] = name.strip()
    return out


def _common(data: dict[str, Any], dialect: Dialect, root: str) -> dict[str, Any]:
    return {"dialect": dialect, "strategy": strategy_of(data, dialect), "root": root, "stamp": stamp_of(data)}


def strategy_of(data: dict[str, Any], default: str) -> str:
    """The strategy the trade belongs to: `strategy` / `strategy_name`, else the dialect's name."""
    name = data.get("strategy_name", data.get("strategy"))
    text = _UNSAFE.sub("_", name.strip()) if isinstance(name, str) and name.strip() else default
    return text[:MAX_STRATEGY_LENGTH]


def stamp_of(data: dict[str, Any]) -> str | None:
    """The alert's own identity: its `time` (`{{timenow}}` or bar `{{time}}`) and `order_id`
    (`{{strategy.order.id}}`), sanitised to trade-id characters; None when it sent neither."""
    parts = [str(data[k]).strip() for k in ("time", "order_id") if isinstance(data.get(k), (str, int, float))
             and not isinstance(data.get(k), bool) and str(data[k]).strip()]
    if not parts:
        return None
    return _UNSAFE.sub("_", "-".join(parts))[:MAX_STAMP_LENGTH]


def choice(data: dict[str, Any], name: str, values: dict[str, str], problems: dict[str, str]) -> str | None:
    raw = data.get(name)
    key = raw.strip().lower() if isinstance(raw, str) else None
    if key not in values:
        problems[name] = f"must be one of {', '.join(values)} (got {raw!r})"
        return None
    return values[key]


def symbol_root(data: dict[str, Any], name: str, problems: dict[str, str]) -> str:
    root = resolve_root(data.get(name))
    if root is None:
        problems[name] = (f"unknown instrument {data.get(name)!r}; use a futures root such as NQ, ES, CL, GC "
                          "(or NQ1!, NQZ2025)")
        return ""
    return root


def number(data: Any, name: str, problems: dict[str, str], where: str = "") -> Decimal | None:
    """A finite number (numbers may be strings, as TradingView sends them); None when absent."""
    raw = data.get(name) if isinstance(data, dict) else None
    if raw is None or raw == "":
        return None
    try:
        if isinstance(raw, bool):
            raise InvalidOperation
        value = Decimal(str(raw).strip())
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems[f"{where}{name}"] = f"must be a number (got {raw!r})"
        return None
    return value
