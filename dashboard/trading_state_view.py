"""SEAM: the trading-state switch (ACTIVE / REDUCING / HALTED) as the dashboard sees it.

The switch itself lives in safety/trading_state.py. It is found at `app.extensions["trading_state"]` and must
offer `get()` and `set(state, who, why)`; until it exists the panel says "not available" and
`/metrics` reports UNKNOWN. `get()` may return a plain string, a mapping or an object with
`state` (and optionally `who`/`why`/`changed_at`): all three are read.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from domain.trading_state import TradingState

STATES = tuple(TradingState)


def _switch(app: Flask) -> Any | None:
    switch = app.extensions.get("trading_state")
    if switch is None or not callable(getattr(switch, "get", None)) or not callable(getattr(switch, "set", None)):
        return None
    return switch


def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def trading_state(app: Flask) -> dict[str, Any]:
    """`{"available": bool, "state", "who", "why", "changed_at"}`; never raises."""
    switch = _switch(app)
    if switch is None:
        return {"available": False, "state": None}
    try:
        value = switch.get()
    except Exception as exc:  # noqa: BLE001 - shown, not hidden, and never a crashed page
        return {"available": True, "state": None, "error": type(exc).__name__}
    if isinstance(value, str):
        return {"available": True, "state": value.upper()}
    state = _field(value, "state")
    return {
        "available": True,
        "state": str(getattr(state, "value", state)).upper() if state is not None else None,
        "who": _field(value, "who") or _field(value, "changed_by"),
        "why": _field(value, "why") or _field(value, "reason"),
        "changed_at": _field(value, "changed_at"),
    }


def set_trading_state(app: Flask, state: str, who: str, why: str) -> bool:
    """Flip the switch; False when no switch is installed."""
    switch = _switch(app)
    if switch is None:
        return False
    switch.set(state, who, why)
    return True
