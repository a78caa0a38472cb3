"""The trading-state switch as the dashboard and /metrics see it: `get()` and `set(state, who, why)`.

A thin adapter over SafetyRepository (the persisted single row), so the dashboard's switch, the
admin API and `flask trading-state` all change the same state the router reads per request.
"""
from __future__ import annotations

from typing import Any

from database.safety_repository import SafetyRepository
from safety.trading_state import normalize_state


class TradingStateSwitch:
    def __init__(self, repository: SafetyRepository):
        self.repository = repository

    def get(self) -> dict[str, Any]:
        record = self.repository.get_trading_state()
        return {"state": record.state, "who": record.changed_by, "why": record.reason,
                "changed_at": record.updated_at.isoformat() if record.updated_at else None}

    def set(self, state: str, who: str, why: str | None) -> None:
        normalized = normalize_state(state)
        if normalized is None:
            raise ValueError(f"unknown trading state {state!r}")
        self.repository.set_trading_state(normalized, why, changed_by=who)
