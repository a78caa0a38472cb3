"""Trading state, NautilusTrader-style: ACTIVE (everything), REDUCING (exits only), HALTED
(nothing sent; signals are still recorded so the audit trail shows what was blocked)."""
from __future__ import annotations

from domain.trading_state import TradingState

ACTIVE, REDUCING, HALTED = TradingState

_REFUSALS = {
    "TRADING_HALTED": "Trading is HALTED: no order sent (the signal is recorded).",
    "TRADING_REDUCING": "Trading is REDUCING: only exits are sent.",
}


def blocked_reason(state: str, action: str) -> str | None:
    """Connector-result reason for an order of ``action`` (ENTRY/EXIT) under ``state``, or None.

    Unknown states block everything: fail closed."""
    if state == ACTIVE:
        return None
    if state == REDUCING:
        return None if action == "EXIT" else "TRADING_REDUCING"
    return "TRADING_HALTED"


def refusal_message(reason: str) -> str:
    """What a connector result says when the trading state refused its order (`blocked_reason`)."""
    return _REFUSALS[reason]


def normalize_state(value: object) -> str | None:
    """'halted' -> 'HALTED'; None for anything that is not a state."""
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    return name if name in list(TradingState) else None
