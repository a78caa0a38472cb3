"""Trading state, NautilusTrader-style: ACTIVE (everything), REDUCING (exits only), HALTED
(nothing sent; signals are still recorded so the audit trail shows what was blocked)."""
from __future__ import annotations

from domain.trading_state import TradingState

ACTIVE, REDUCING, HALTED = TradingState


def blocked_reason(state: str, action: str) -> str | None:
    """Connector-result reason for an order of ``action`` (ENTRY/EXIT) under ``state``, or None.

    Unknown states block everything: fail closed."""
    if state == ACTIVE:
        return None
    if state == REDUCING:
        return None if action == "EXIT" else "TRADING_REDUCING"
    return "TRADING_HALTED"


def normalize_state(value: object) -> str | None:
    """'halted' -> 'HALTED'; None for anything that is not a state."""
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    return name if name in list(TradingState) else None
