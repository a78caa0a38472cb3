"""Which trade an alert without a `trade_id` belongs to: its (strategy, symbol root).

An entry opens the trade `<strategy>:<ROOT>:<stamp>` (the stamp is the alert's `time` and
`order_id`, or without them `h` + a digest of the body), so a resent alert names the same trade
and is recognised by its idempotency key. Everything else is matched to the newest open trade of
that strategy on that root (`trade_prefix`):
- an exit / flat closes it - of the side the alert closed, when it says (a sell that left the
  strategy flat closed a long; were a short opened meanwhile, by an alert processed first, it is
  not touched); with none open it is recorded and sends nothing;
- an entry on the other side is a reversal: close that trade, then open the new one;
- an entry on the side already held is a repeat and names the open trade, so it gets that
  trade's stored entry result (a trade opens once) and never opens a second.
The strategy is matched case-insensitively, as ROUTES matches strategy names: "FVG Core" and
"fvg core" are one strategy, so the trade ids and alert keys carry it lower-cased.
Pure: the caller looks the open trade up and runs the steps in order.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from safety.idempotency import alert_key, payload_digest
from signals.dialects import CLOSE_EVENT, ENTRY_EVENT, Alert

NO_TRADE_FIELD = "unmatched_strategy"
"""Set on an exit that matched no open trade, so its result can say which (strategy, root) it was."""


@dataclass(frozen=True)
class OpenTrade:
    trade_id: str
    side: str


@dataclass(frozen=True)
class Step:
    """One signal to route: its fields (trade_id included) and its idempotency key (None: the
    usual derivation from trade_id and event type, safety/idempotency.py)."""

    fields: dict[str, Any]
    key: str | None
    role: str  # "entry", "exit" or "reversal_exit"


def trade_prefix(strategy: str, root: str) -> str:
    """What every trade id of (strategy, root) starts with."""
    return f"{strategy.lower()}:{root}:"


def stamp_or_digest(alert: Alert, data: dict[str, Any]) -> str:
    return alert.stamp if alert.stamp is not None else "h" + payload_digest(data)[:16]


def side_looked_up(alert: Alert) -> str | None:
    """The side of the open trade to look for: an entry looks at either (a repeat or a reversal)."""
    return None if alert.intent == "OPEN" else alert.side


def plan_steps(alert: Alert, data: dict[str, Any], open_trade: OpenTrade | None,
               header_key: str | None = None, entry_type: str = ENTRY_EVENT) -> tuple[Step, ...]:
    """The signals `alert` stands for, in the order they must run. `open_trade`: the newest open
    trade of its (strategy, root), of `side_looked_up(alert)`. `data`: the body as received
    (secret removed); `header_key`: an Idempotency-Key the sender set (`hdr:...`); `entry_type`:
    the event type an entry is routed as (one ENTRY_EVENT_TYPES opens trades on)."""
    stamp = stamp_or_digest(alert, data)
    derived = trade_prefix(alert.strategy, alert.root) + stamp
    if alert.intent == "OPEN":
        alert = replace(alert, fields={**alert.fields, "event_type": entry_type})
        if open_trade is not None and open_trade.side == alert.side:  # a repeat: the open trade's entry
            return (Step({**alert.fields, "trade_id": open_trade.trade_id}, header_key, "entry"),)
        entry = Step({**alert.fields, "trade_id": derived}, header_key, "entry")
        if open_trade is None:
            return (entry,)
        close = {"event_type": CLOSE_EVENT, "trade_id": open_trade.trade_id, **_price_of(alert.fields)}
        return (Step(close, _exit_key(alert, header_key, CLOSE_EVENT, ":close"), "reversal_exit"), entry)
    event = alert.fields["event_type"]
    if open_trade is None:
        held = f" ({alert.side.lower()})" if alert.side else ""
        fields = {**alert.fields, "trade_id": derived, NO_TRADE_FIELD: f"{alert.strategy} on {alert.root}{held}"}
        return (Step(fields, _exit_key(alert, header_key, event), "exit"),)
    return (Step({**alert.fields, "trade_id": open_trade.trade_id}, _exit_key(alert, header_key, event), "exit"),)


def _price_of(fields: dict[str, Any]) -> dict[str, Any]:
    price = fields.get("entry_price")
    return {"exit_price": price} if price is not None else {}


def _exit_key(alert: Alert, header_key: str | None, event_type: str, suffix: str = "") -> str | None:
    """An exit is keyed by the alert's own stamp when it has one: a resend arriving after the
    trade closed (and another opened) is still this alert, never an exit of the newer trade.
    Without a stamp the usual key (resolved trade id and event type) applies: a trade closes once."""
    if header_key is not None:
        return header_key + suffix
    if alert.stamp is None:
        return None
    return alert_key(alert.strategy.lower(), alert.root, alert.stamp, event_type)
