"""The trading-state switch (ACTIVE / REDUCING / HALTED) as the dashboard, the query API and
/metrics show it: `app.extensions["trading_state"]`, a safety.switch.TradingStateSwitch over the
persisted state the router obeys. Reading it never raises: a database error is shown on the page
rather than crashing it.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from domain.trading_state import TradingState
from safety.switch import TradingStateSwitch

STATES = tuple(TradingState)


def _switch(app: Flask) -> TradingStateSwitch | None:
    return app.extensions.get("trading_state")


def trading_state(app: Flask) -> dict[str, Any]:
    """`{"available": bool, "state", "who", "why", "changed_at"}`; never raises."""
    switch = _switch(app)
    if switch is None:
        return {"available": False, "state": None}
    try:
        return {"available": True, **switch.get()}
    except Exception as exc:  # noqa: BLE001 - shown, not hidden, and never a crashed page
        return {"available": True, "state": None, "error": type(exc).__name__}


def set_trading_state(app: Flask, state: str, who: str, why: str) -> bool:
    """Flip the switch; False when no switch is installed."""
    switch = _switch(app)
    if switch is None:
        return False
    switch.set(state, who, why)
    return True
